"""Reading the stored transcript of a room: pages for the UI, whole files for download; and
deleting it. Who may: the room's participants while the meeting goes on; after it ended,
everyone who was in it (not removed), until the room's retention deletes it with its rows.
The host (after the end: whoever was host last) may delete it at any time."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import msgspec

from moot.rooms.service import RoomService
from moot.transcription import store
from moot.transcription.control import TranscriptionRuns
from moot.transcription.export import render
from moot.transcription.schemas import TranscriptPage, TranscriptSegment


class TranscriptDeleted(msgspec.Struct, kw_only=True):
    deleted: int  # segments deleted
    stopped: bool  # a running transcription was stopped first


class TranscriptHistory:
    def __init__(self, pool: asyncpg.Pool, rooms: RoomService, runs: TranscriptionRuns) -> None:
        self._pool = pool
        self._rooms = rooms
        self._runs = runs

    async def page(
        self, room_id: uuid.UUID, participant_id: uuid.UUID, *, after: int | None, limit: int
    ) -> TranscriptPage:
        """Final segments in time order; pass `next_after` back as `after` for the next page."""
        room = await self._rooms.attended_room(room_id, participant_id)
        async with self._pool.acquire() as conn:
            items = await store.list_segments(conn, room.id, after=after, limit=limit + 1)
        has_more = len(items) > limit
        items = items[:limit]
        return TranscriptPage(
            items=items, has_more=has_more, next_after=items[-1].id if has_more else None
        )

    async def export(
        self, room_id: uuid.UUID, participant_id: uuid.UUID, fmt: str
    ) -> tuple[str | bytes, str, str]:
        """(body, media type, file name) of the whole transcript in `fmt`."""
        room = await self._rooms.attended_room(room_id, participant_id)
        async with self._pool.acquire() as conn:
            segments = await store.all_segments(conn, room.id)
        body, media_type, extension = render(segments, fmt)
        return body, media_type, f"moot-{room.code}-transcript.{extension}"

    async def delete(self, room_id: uuid.UUID, participant_id: uuid.UUID) -> TranscriptDeleted:
        """The host deletes the transcript for everyone: a running transcription stops, every
        segment is deleted (finals of a worker session open at that moment are dropped by the
        worker, and whatever of them was stored meanwhile goes when the session ends), the
        finals kept for replay on the room topic go, and the room hears `transcript.deleted`."""
        room = await self._rooms.hosted_room(room_id, participant_id)
        async with self._pool.acquire() as conn, conn.transaction():
            await self._runs.members.lock(conn, room.id)
            stopped = (await store.room_transcription(conn, room.id)).status == "active"
            if stopped:
                await store.set_status(conn, room.id, "idle")
            deleted = await store.clear_transcript(conn, room.id)
            cleared_at = await store.cleared_at(conn, room.id)
        assert cleared_at is not None
        await self._runs.cleared(room.id, cleared_at)
        if stopped:
            await self._runs.released(room.id)
        await self._runs.events.deleted(room.id, participant_id)
        return TranscriptDeleted(deleted=deleted, stopped=stopped)


# A window of a room's transcript, for the domain that keeps a record of the meetings held in
# one room over time (spaces' sessions): segments stored from `since` until `until` (None: up
# to now), read or deleted inside the caller's transaction.


async def segments_in_window(
    conn: store.Conn,
    room_id: uuid.UUID,
    since: datetime,
    until: datetime | None,
    *,
    after: int | None = None,
    limit: int | None = None,
) -> list[TranscriptSegment]:
    """The window's final segments in timeline order (a page of them with `after`/`limit`)."""
    return await store.segments_in_window(conn, room_id, since, until, after=after, limit=limit)


async def delete_window(
    conn: store.Conn, room_id: uuid.UUID, since: datetime, until: datetime | None
) -> int:
    """Delete the window's segments; how many there were."""
    return await store.delete_segments_in_window(conn, room_id, since, until)

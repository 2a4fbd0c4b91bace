"""Reading the stored transcript of a room: pages for the UI, whole files for download."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from moot.rooms.service import RoomService
from moot.transcription import store
from moot.transcription.export import render
from moot.transcription.schemas import TranscriptPage, TranscriptSegment


class TranscriptHistory:
    def __init__(self, pool: asyncpg.Pool, rooms: RoomService) -> None:
        self._pool = pool
        self._rooms = rooms

    async def page(
        self, room_id: uuid.UUID, participant_id: uuid.UUID, *, after: int | None, limit: int
    ) -> TranscriptPage:
        """Final segments in time order; pass `next_after` back as `after` for the next page."""
        room, _ = await self._rooms.seat_and_room(room_id, participant_id)
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
        room, _ = await self._rooms.seat_and_room(room_id, participant_id)
        async with self._pool.acquire() as conn:
            segments = await store.all_segments(conn, room.id)
        body, media_type, extension = render(segments, fmt)
        return body, media_type, f"moot-{room.code}-transcript.{extension}"


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

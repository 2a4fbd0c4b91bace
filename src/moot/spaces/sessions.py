"""A space's meeting history: its sessions (past and current), who came to each, and each
one's transcript, read or exported by members; admins delete a session with its transcript.

Transcript times count from the session's start (the stored segments count from the room's
creation, which for a room that stays may be weeks before).
"""

from __future__ import annotations

import uuid

import asyncpg
import msgspec

from moot.errors import MootError
from moot.rooms.schemas import RoomView
from moot.rooms.service import RoomService
from moot.spaces import store
from moot.spaces.schemas import AttendeeView, SessionPage, SessionView
from moot.spaces.service import require
from moot.transcription.export import render
from moot.transcription.history import delete_window, segments_in_window
from moot.transcription.schemas import TranscriptPage, TranscriptSegment


class SpaceSessions:
    def __init__(self, pool: asyncpg.Pool, rooms: RoomService) -> None:
        self._pool = pool
        self._rooms = rooms

    async def list_sessions(
        self,
        account_id: uuid.UUID,
        space_id: uuid.UUID,
        *,
        before: uuid.UUID | None,
        room: str | None,
        limit: int,
    ) -> SessionPage:
        """Newest first, `limit` a page; pass `next_before` back as `before` for older ones."""
        room_id = await self._rooms.resolve_at_edge(room) if room is not None else None
        async with self._pool.acquire() as conn:
            await require(conn, space_id, account_id, "member")
            rows = await store.list_sessions(
                conn, space_id, before=before, room_id=room_id, limit=limit + 1
            )
            has_more = len(rows) > limit
            rows = rows[:limit]
            who = await store.attendees(conn, [row["id"] for row in rows])
        rooms = await self._room_map([row["room_id"] for row in rows])
        return SessionPage(
            items=[_view(row, rooms[row["room_id"]], who[row["id"]]) for row in rows],
            has_more=has_more,
            next_before=rows[-1]["id"] if has_more else None,
        )

    async def get(
        self, account_id: uuid.UUID, space_id: uuid.UUID, session_id: uuid.UUID
    ) -> SessionView:
        async with self._pool.acquire() as conn:
            row = await self._session(conn, account_id, space_id, session_id)
            who = await store.attendees(conn, [session_id])
        rooms = await self._room_map([row["room_id"]])
        return _view(row, rooms[row["room_id"]], who[session_id])

    async def transcript(
        self,
        account_id: uuid.UUID,
        space_id: uuid.UUID,
        session_id: uuid.UUID,
        *,
        after: int | None,
        limit: int,
    ) -> TranscriptPage:
        async with self._pool.acquire() as conn:
            row = await self._session(conn, account_id, space_id, session_id)
            items = await segments_in_window(
                conn,
                row["room_id"],
                row["started_at"],
                row["window_end"],
                after=after,
                limit=limit + 1,
            )
        has_more = len(items) > limit
        items = items[:limit]
        offset = _offset(row, (await self._room_map([row["room_id"]]))[row["room_id"]])
        return TranscriptPage(
            items=[_shifted(item, offset) for item in items],
            has_more=has_more,
            next_after=items[-1].id if has_more else None,
        )

    async def export(
        self, account_id: uuid.UUID, space_id: uuid.UUID, session_id: uuid.UUID, fmt: str
    ) -> tuple[str | bytes, str, str]:
        """(body, media type, file name) of the session's whole transcript in `fmt`."""
        async with self._pool.acquire() as conn:
            row = await self._session(conn, account_id, space_id, session_id)
            segments = await segments_in_window(
                conn, row["room_id"], row["started_at"], row["window_end"]
            )
        room = (await self._room_map([row["room_id"]]))[row["room_id"]]
        offset = _offset(row, room)
        body, media_type, extension = render([_shifted(s, offset) for s in segments], fmt)
        day = row["started_at"].strftime("%Y-%m-%d")
        return body, media_type, f"moot-{room.code}-{day}-transcript.{extension}"

    async def delete(
        self, account_id: uuid.UUID, space_id: uuid.UUID, session_id: uuid.UUID
    ) -> None:
        """Admins delete a past session: its attendance and its transcript go together, in
        one transaction. A meeting still going on is refused (409 `session_in_progress`)."""
        async with self._pool.acquire() as conn, conn.transaction():
            await require(conn, space_id, account_id, "admin")
            row = await store.get_session(conn, space_id, session_id, lock=True)
            if row is None:
                raise MootError("session_not_found")
            if row["ended_at"] is None:
                raise MootError("session_in_progress")
            await delete_window(conn, row["room_id"], row["started_at"], row["window_end"])
            await store.delete_sessions(conn, [session_id])

    # -- helpers -------------------------------------------------------------------------

    async def _session(
        self,
        conn: store.Conn,
        account_id: uuid.UUID,
        space_id: uuid.UUID,
        session_id: uuid.UUID,
    ) -> asyncpg.Record:
        await require(conn, space_id, account_id, "member")
        row = await store.get_session(conn, space_id, session_id)
        if row is None:
            raise MootError("session_not_found")
        return row

    async def _room_map(self, room_ids: list[uuid.UUID]) -> dict[uuid.UUID, RoomView]:
        return {room.id: room for room in await self._rooms.rooms(list(set(room_ids)))}


def _offset(row: asyncpg.Record, room: RoomView) -> float:
    """Seconds from the room's creation (where segment times count from) to the session's
    start."""
    return float((row["started_at"] - room.created_at).total_seconds())


def _shifted(segment: TranscriptSegment, offset: float) -> TranscriptSegment:
    """The segment with its times counted from the session's start."""
    return msgspec.structs.replace(
        segment,
        started_at=max(segment.started_at - offset, 0.0),
        ended_at=None if segment.ended_at is None else max(segment.ended_at - offset, 0.0),
    )


def _view(row: asyncpg.Record, room: RoomView, attendees: list[AttendeeView]) -> SessionView:
    return SessionView(
        id=row["id"],
        space_id=row["space_id"],
        room_id=row["room_id"],
        room_code=room.code,
        room_title=room.title,
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        end_reason=row["end_reason"],
        attendees=attendees,
    )

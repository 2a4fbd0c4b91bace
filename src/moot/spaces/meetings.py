"""The keeper of a space's rooms (rooms' `RoomKeeper`): who may enter one, and the record of
each meeting held in it.

A meeting is a session: the first person into an empty space room starts one; it ends when
the room empties (the last one leaves, or the presence grace period passes after their last
socket closed) or when the room's host ends the meeting. Its attendance rows are written in
the transaction that takes or releases each seat, so a running session's open rows are the
room's seats. Its transcript is the room's segments stored between its start and the room's
next session's start (transcription's window functions; segments carry no session).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg
import msgspec

from moot.errors import MootError
from moot.rooms.schemas import ParticipantView
from moot.rooms.service import After, Unseated
from moot.spaces import store
from moot.spaces.events import SpaceEvents
from moot.spaces.schemas import EndReason, MeetingEnded, MeetingNow, MeetingStarted, MeetingUpdated
from moot.transcription.history import delete_window


class SpaceMeetings:
    def __init__(self, pool: asyncpg.Pool, events: SpaceEvents) -> None:
        self._pool = pool
        self._events = events

    # -- who may enter ---------------------------------------------------------------------

    async def admit(self, conn: store.Conn, room_id: uuid.UUID, participant_id: uuid.UUID) -> None:
        """Guests come in by link unless the space is members-only. The space's row stays
        share-locked until the join commits, so a removal (which takes it) waits for the
        seat and then sends its holder out."""
        space = await store.room_space(conn, room_id, share_lock=True)
        if space is None or not space["members_only"]:
            return
        if await store.role_in(conn, space["space_id"], participant_id) is None:
            raise MootError("members_only")

    async def may_see(self, room_id: uuid.UUID, account_id: uuid.UUID | None) -> None:
        async with self._pool.acquire() as conn:
            space = await store.room_space(conn, room_id)
            if space is None or not space["members_only"]:
                return
            member = account_id is not None and (
                await store.role_in(conn, space["space_id"], account_id) is not None
            )
        if not member:
            raise MootError("members_only")

    # -- the record of meetings ------------------------------------------------------------

    async def seated(
        self, conn: store.Conn, room_id: uuid.UUID, seat: ParticipantView
    ) -> After | None:
        space = await store.room_space(conn, room_id)
        if space is None:
            return None
        session = await store.running_session(conn, room_id)
        started = session is None
        if session is None:
            session = await store.start_session(conn, space["space_id"], room_id)
        await store.arrive(
            conn, session["id"], seat.participant_id, seat.display_name, seat.joined_at
        )
        meeting = MeetingNow(
            session_id=session["id"],
            room_id=room_id,
            started_at=session["started_at"],
            participants=await store.present(conn, session["id"]),
        )
        event = MeetingStarted(meeting=meeting) if started else MeetingUpdated(meeting=meeting)
        return self._announce(space["space_id"], event)

    async def unseated(
        self,
        conn: store.Conn,
        room_id: uuid.UUID,
        seats: Sequence[ParticipantView],
        reason: Unseated,
    ) -> After | None:
        session = await store.running_session(conn, room_id)
        if session is None:
            return None
        await store.depart(conn, session["id"], [seat.participant_id for seat in seats])
        still = await store.present(conn, session["id"])
        event: msgspec.Struct
        if reason == "ended" or not still:
            end_reason: EndReason = "host" if reason == "ended" else "empty"
            ended_at = await store.end_session(conn, session["id"], end_reason)
            event = MeetingEnded(
                session_id=session["id"],
                room_id=room_id,
                started_at=session["started_at"],
                ended_at=ended_at,
                reason=end_reason,
            )
        else:
            event = MeetingUpdated(
                meeting=MeetingNow(
                    session_id=session["id"],
                    room_id=room_id,
                    started_at=session["started_at"],
                    participants=still,
                )
            )
        return self._announce(session["space_id"], event)

    async def expire(self, conn: store.Conn) -> int:
        """Inside the cleanup pass: sessions past their space's retention go, with their
        transcripts, in the pass's transaction."""
        expired = await store.expired_sessions(conn)
        for session in expired:
            await delete_window(
                conn, session["room_id"], session["started_at"], session["window_end"]
            )
        await store.delete_sessions(conn, [session["id"] for session in expired])
        return len(expired)

    def _announce(self, space_id: uuid.UUID, event: msgspec.Struct) -> After:
        async def after() -> None:
            await self._events.space(space_id, event)

        return after

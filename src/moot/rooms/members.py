"""Who holds a seat in a room: the check every room-scoped action starts with, and the answer
the chat asks for (`chat.service.Members`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Literal

import asyncpg

from moot.chat.schemas import Author
from moot.errors import MootError
from moot.rooms import store
from moot.rooms.schemas import ParticipantView, RoomView

Seat = tuple[uuid.UUID, uuid.UUID]  # (room, participant)
LeftReason = Literal["left", "removed", "room_ended"]


class RoomMembers:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def require_participant(
        self, room_id: uuid.UUID, participant_id: uuid.UUID
    ) -> ParticipantView:
        """The caller's seat in an active room, or the error that explains why there is none."""
        async with self._pool.acquire() as conn:
            seat = await store.active_seat(conn, room_id, participant_id)
            if seat is not None:
                return store.participant_view(seat)
            room = await store.get_room(conn, room_id)
        if room is None:
            raise MootError("room_not_found")
        if room.status == "ended":
            raise MootError("room_ended")
        raise MootError("not_a_participant")

    async def author(self, room_id: uuid.UUID, participant_id: uuid.UUID) -> Author:
        return as_author(await self.require_participant(room_id, participant_id))

    async def is_present(self, room_id: uuid.UUID, participant_id: uuid.UUID) -> bool:
        async with self._pool.acquire() as conn:
            return await store.active_seat(conn, room_id, participant_id) is not None

    # Asked inside another domain's transaction (the connection is the caller's), so what it
    # decides from a room's seats is consistent with the room's other changes.

    async def lock(self, conn: store.Conn, room_id: uuid.UUID) -> None:
        """Take the room's row lock: serialize with joins, leaves and host actions."""
        await store.lock_room(conn, room_id)

    async def present_or_host(
        self, conn: store.Conn, room_id: uuid.UUID, preferred: uuid.UUID | None
    ) -> uuid.UUID | None:
        """`preferred` if they are in the room, else the room's host (None in an empty room)."""
        return await store.present_or_host(conn, room_id, preferred)

    async def room(self, conn: store.Conn, room_id: uuid.UUID) -> RoomView | None:
        return await store.get_room(conn, room_id)

    async def present(self, room_id: uuid.UUID) -> frozenset[uuid.UUID]:
        async with self._pool.acquire() as conn:
            return await store.present_ids(conn, room_id)

    async def attendees(
        self, room_id: uuid.UUID, participant_ids: Sequence[uuid.UUID]
    ) -> frozenset[uuid.UUID]:
        """Of these, who holds or held a seat in the room and was never removed from it."""
        async with self._pool.acquire() as conn:
            return await store.attendees(conn, room_id, list(participant_ids))

    async def departures(self, seats: Sequence[Seat]) -> dict[Seat, LeftReason]:
        """Of these (room, participant) pairs, those holding no seat now, with why (one
        query however many): the meeting ended, they were removed, or they left."""
        if not seats:
            return {}
        async with self._pool.acquire() as conn:
            rows = await store.latest_seats(
                conn, [room for room, _ in seats], [who for _, who in seats]
            )
        gone: dict[Seat, LeftReason] = {}
        for row in rows:
            seat = (row["room_id"], row["participant_id"])
            if row["room_status"] != "active":
                gone[seat] = "room_ended"
            elif row["joined_at"] is None:
                gone[seat] = "removed"  # never seated here: refused as a removal is
            elif row["left_at"] is not None:
                gone[seat] = row["left_reason"] or "left"
        return gone


def as_author(seat: ParticipantView) -> Author:
    return Author(
        participant_id=seat.participant_id,
        display_name=seat.display_name,
        moderator=seat.role == "host",
    )

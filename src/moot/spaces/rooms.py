"""A space's meeting rooms: rooms that stay (no lifetime, no idle end), with a stable link
(the room's code). Admins create and delete them; members list them and see who is in each.
Joining one is joining a room like any other (`POST /api/v1/rooms/{code}/join`): members as
themselves, guests by link unless the space is members-only (spaces/meetings.py decides).
"""

from __future__ import annotations

import uuid

import asyncpg
import msgspec

from moot.errors import MootError
from moot.rooms.schemas import RoomView
from moot.rooms.service import RoomService
from moot.spaces import store
from moot.spaces.events import SpaceEvents
from moot.spaces.schemas import CreateSpaceRoom, MeetingNow, RoomCreated, RoomDeleted, SpaceRoomView
from moot.spaces.service import require


def space_room(room: RoomView, space_id: uuid.UUID, meeting: MeetingNow | None) -> SpaceRoomView:
    return SpaceRoomView(**msgspec.structs.asdict(room), space_id=space_id, meeting=meeting)


class SpaceRooms:
    def __init__(self, pool: asyncpg.Pool, rooms: RoomService, events: SpaceEvents) -> None:
        self._pool = pool
        self._rooms = rooms
        self._events = events

    async def create(
        self, account_id: uuid.UUID, space_id: uuid.UUID, body: CreateSpaceRoom
    ) -> SpaceRoomView:
        async with self._pool.acquire() as conn, conn.transaction():
            await require(conn, space_id, account_id, "admin")
            room = await self._rooms.create_kept_room(
                conn,
                title=body.title,
                description=body.description,
                max_participants=body.max_participants,
            )
            await store.add_room(conn, room.id, space_id, account_id)
        view = space_room(room, space_id, None)
        await self._events.space(space_id, RoomCreated(room=view))
        return view

    async def list_rooms(self, account_id: uuid.UUID, space_id: uuid.UUID) -> list[SpaceRoomView]:
        """The space's rooms, oldest first, each with the meeting going on in it (if any)."""
        async with self._pool.acquire() as conn:
            await require(conn, space_id, account_id, "member")
            room_ids = await store.room_ids(conn, space_id)
            running = await store.running_in(conn, room_ids)
            present = await store.attendees(conn, [row["id"] for row in running])
        meetings = {
            row["room_id"]: MeetingNow(
                session_id=row["id"],
                room_id=row["room_id"],
                started_at=row["started_at"],
                participants=[a for a in present[row["id"]] if a.left_at is None],
            )
            for row in running
        }
        found = {room.id: room for room in await self._rooms.rooms(room_ids)}
        return [
            space_room(found[room_id], space_id, meetings.get(room_id))
            for room_id in room_ids
            if room_id in found
        ]

    async def delete(self, account_id: uuid.UUID, space_id: uuid.UUID, room_ref: str) -> None:
        """Delete the room with its past sessions and their transcripts; a meeting going on
        in it ends for everyone."""
        room_id = await self._rooms.resolve_at_edge(room_ref)  # the nil UUID if none
        async with self._pool.acquire() as conn, conn.transaction():
            await require(conn, space_id, account_id, "admin")
            if room_id not in await store.room_ids(conn, space_id):
                raise MootError("room_not_found")
            after = await self._rooms.delete_kept_room(conn, room_id)
        await after()
        await self._events.space(space_id, RoomDeleted(room_id=room_id))

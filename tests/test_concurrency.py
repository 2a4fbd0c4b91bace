"""Capacity and host rules hold when many guests arrive at the same moment."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import asyncpg

from tests.conftest import Moot


async def test_fifty_simultaneous_joins_to_a_ten_seat_room_admit_exactly_ten(
    moot: Moot, db: asyncpg.Connection
) -> None:
    host = await moot.guest()
    room = await host.create_room(max_participants=10)
    guests = await asyncio.gather(*(moot.guest() for _ in range(50)))

    responses = await asyncio.gather(*(g.join(room["code"], f"G{i}") for i, g in enumerate(guests)))

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 9, 409: 41}  # the host holds the tenth seat
    assert all(r.json()["code"] == "room_full" for r in responses if r.status_code == 409)
    seated = await db.fetchval(
        "SELECT count(*) FROM room_participants WHERE room_id = $1 AND left_at IS NULL",
        uuid.UUID(room["id"]),
    )
    assert seated == 10


async def test_one_guest_joining_from_many_tabs_at_once_takes_one_seat(
    moot: Moot, db: asyncpg.Connection
) -> None:
    host = await moot.guest()
    guest = await moot.guest()
    room = await host.create_room()
    responses = await asyncio.gather(*(guest.join(room["code"], "Tabs") for _ in range(20)))
    assert {r.status_code for r in responses} == {200}
    rows = await db.fetchval(
        "SELECT count(*) FROM room_participants WHERE participant_id = $1",
        uuid.UUID(guest.participant_id),
    )
    assert rows == 1


async def test_a_room_never_has_two_hosts_when_everyone_leaves_and_joins_at_once(
    moot: Moot, db: asyncpg.Connection
) -> None:
    host = await moot.guest()
    room = await host.create_room(max_participants=20)
    guests = await asyncio.gather(*(moot.guest() for _ in range(10)))
    for i, g in enumerate(guests):
        await g.join(room["code"], f"G{i}")

    # The host and half the guests leave while newcomers arrive.
    newcomers = await asyncio.gather(*(moot.guest() for _ in range(5)))
    await asyncio.gather(
        host.post(f"/api/v1/rooms/{room['code']}/leave"),
        *(g.post(f"/api/v1/rooms/{room['code']}/leave") for g in guests[:5]),
        *(n.join(room["code"], f"N{i}") for i, n in enumerate(newcomers)),
    )
    hosts = await db.fetch(
        "SELECT participant_id FROM room_participants "
        "WHERE room_id = $1 AND left_at IS NULL AND role = 'host'",
        uuid.UUID(room["id"]),
    )
    assert len(hosts) == 1
    # The role went to the earliest-joined guest still in the room.
    assert str(hosts[0]["participant_id"]) == guests[5].participant_id

"""Cleanup: idle and expired rooms end, old personal data is forgotten, old rooms go away."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis

from moot.infra.postgres import CLEANUP_LOCK, create_pool
from moot.rooms.cleanup import CleanupReport, run_cleanup
from moot.settings import RoomSettings
from tests.conftest import SECRET, Moot, MootFactory, make_settings
from tests.conftest import TestStores as Stores

HOUR = 3600
DAY = 24 * HOUR


@pytest.fixture
async def pool(stores: Stores, db: asyncpg.Connection) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(stores.database_url, 1, 4)
    try:
        yield pool
    finally:
        await pool.close()


def cleanup_settings(**overrides: Any) -> RoomSettings:
    defaults: dict[str, Any] = {
        "room_idle_timeout_seconds": 15 * 60,
        "participant_data_retention_seconds": 7 * DAY,
        "ended_room_retention_seconds": 30 * DAY,
    }
    return make_settings(**{**defaults, **overrides}).rooms()


def counts(report: CleanupReport) -> dict[str, Any]:
    """The report's verdict and tallies, for comparing whole reports at once."""
    return {
        "ran": report.ran,
        "ended_idle": report.ended_idle,
        "ended_expired": report.ended_expired,
        "participants_purged": report.participants_purged,
        "rooms_deleted": report.rooms_deleted,
    }


def tally(**nonzero: Any) -> dict[str, Any]:
    return counts(CleanupReport(ran=nonzero.pop("ran", True), **nonzero))


async def room_row(db: asyncpg.Connection, room: dict[str, Any]) -> Any:
    """The room's row, or None once it is deleted (Any: most tests index it straight away)."""
    return await db.fetchrow(
        "SELECT status, end_reason, ended_at FROM rooms WHERE id = $1", uuid.UUID(room["id"])
    )


async def age_room(db: asyncpg.Connection, room: dict[str, Any], column: str, ago: str) -> None:
    assert column in ("last_activity_at", "expires_at", "ended_at", "created_at")
    await db.execute(
        f"UPDATE rooms SET {column} = now() - $2::text::interval WHERE id = $1",
        uuid.UUID(room["id"]),
        ago,
    )


async def empty_room(moot: Moot) -> dict[str, Any]:
    host = await moot.guest()
    room = await host.create_room()
    assert (await host.post(f"/api/v1/rooms/{room['code']}/leave")).status_code == 200
    return room


async def test_an_empty_room_idle_past_the_timeout_ends_as_idle(
    moot: Moot, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    room = await empty_room(moot)
    await age_room(db, room, "last_activity_at", "16 minutes")

    report = await run_cleanup(pool, cleanup_settings())

    assert counts(report) == tally(ended_idle=1)
    row = await room_row(db, room)
    assert row["status"] == "ended"
    assert row["end_reason"] == "idle"
    assert row["ended_at"] is not None
    # Anyone arriving later learns the meeting is over.
    late = await (await moot.guest()).join(room["code"], "Late")
    assert late.status_code == 410


async def test_an_empty_room_within_the_idle_timeout_stays_open(
    moot: Moot, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    room = await empty_room(moot)
    await age_room(db, room, "last_activity_at", "14 minutes")
    report = await run_cleanup(pool, cleanup_settings())
    assert report.ran is True
    assert report.ended_idle == 0
    assert (await room_row(db, room))["status"] == "active"


async def test_a_room_with_someone_in_it_is_not_ended_for_idleness(
    moot: Moot, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    host = await moot.guest()
    room = await host.create_room()
    await age_room(db, room, "last_activity_at", "3 days")

    report = await run_cleanup(pool, cleanup_settings())

    assert report.ended_idle == 0
    assert (await room_row(db, room))["status"] == "active"
    assert (await host.get(f"/api/v1/rooms/{room['code']}/participants")).status_code == 200


async def test_a_room_past_its_expiry_ends_as_expired_and_everyone_leaves(
    moot: Moot, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    host = await moot.guest()
    guest = await moot.guest()
    room = await host.create_room()
    await guest.join(room["code"], "Guest")
    await age_room(db, room, "expires_at", "1 minute")

    report = await run_cleanup(pool, cleanup_settings())

    assert counts(report) == tally(ended_expired=1)
    row = await room_row(db, room)
    assert row["status"] == "ended"
    assert row["end_reason"] == "expired"
    seats = await db.fetch(
        "SELECT left_at, left_reason FROM room_participants WHERE room_id = $1",
        uuid.UUID(room["id"]),
    )
    assert len(seats) == 2
    assert all(s["left_at"] is not None for s in seats)
    assert {s["left_reason"] for s in seats} == {"room_ended"}
    response = await host.get(f"/api/v1/rooms/{room['code']}/participants")
    assert response.status_code == 410


async def test_rooms_expire_after_the_configured_lifetime(
    moot_factory: MootFactory, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    moot = await moot_factory(room_max_lifetime_seconds=2 * HOUR)
    room = await (await moot.guest()).create_room()
    lifetime = await db.fetchval(
        "SELECT extract(epoch FROM expires_at - created_at) FROM rooms WHERE id = $1",
        uuid.UUID(room["id"]),
    )
    assert lifetime == pytest.approx(2 * HOUR, abs=5)


async def test_a_fresh_room_is_untouched(
    moot: Moot, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    host = await moot.guest()
    occupied = await host.create_room()
    vacated = await empty_room(moot)
    before = await db.fetch("SELECT * FROM rooms ORDER BY id")
    seats_before = await db.fetch("SELECT * FROM room_participants ORDER BY id")

    report = await run_cleanup(pool, cleanup_settings())

    assert counts(report) == tally()
    assert await db.fetch("SELECT * FROM rooms ORDER BY id") == before
    assert await db.fetch("SELECT * FROM room_participants ORDER BY id") == seats_before
    assert (await room_row(db, occupied))["status"] == "active"
    assert (await room_row(db, vacated))["status"] == "active"


async def test_personal_data_of_long_gone_participants_is_purged(
    moot_factory: MootFactory, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    moot = await moot_factory(client_ip="198.51.100.7")
    browser = {"User-Agent": "FakeBrowser/2.0"}
    host = await moot.guest()
    long_gone = await moot.guest()
    recently_gone = await moot.guest()
    still_here = await moot.guest()
    room = await host.create_room()
    for guest in (long_gone, recently_gone, still_here):
        joined = await guest.post(
            f"/api/v1/rooms/{room['code']}/join", json={"display_name": "G"}, headers=browser
        )
        assert joined.status_code == 200
    for guest in (long_gone, recently_gone):
        assert (await guest.post(f"/api/v1/rooms/{room['code']}/leave")).status_code == 200
    await db.execute(
        "UPDATE room_participants SET left_at = now() - interval '8 days' "
        "WHERE participant_id = $1",
        uuid.UUID(long_gone.participant_id),
    )
    await db.execute(
        "UPDATE room_participants SET left_at = now() - interval '6 days' "
        "WHERE participant_id = $1",
        uuid.UUID(recently_gone.participant_id),
    )

    report = await run_cleanup(pool, cleanup_settings(participant_data_retention_seconds=7 * DAY))

    assert report.participants_purged == 1
    rows = await db.fetch(
        "SELECT participant_id, host(client_ip) AS ip, user_agent, display_name, left_at "
        "FROM room_participants WHERE room_id = $1",
        uuid.UUID(room["id"]),
    )
    by_id = {str(r["participant_id"]): r for r in rows}
    purged = by_id[long_gone.participant_id]
    assert purged["ip"] is None
    assert purged["user_agent"] is None
    assert purged["left_at"] is not None  # the seat's history stays, only personal data goes
    for kept in (recently_gone, still_here):
        assert by_id[kept.participant_id]["ip"] == "198.51.100.7"
        assert by_id[kept.participant_id]["user_agent"] == "FakeBrowser/2.0"
    assert by_id[host.participant_id]["ip"] == "198.51.100.7"

    # A second pass has nothing left to purge.
    again = await run_cleanup(pool, cleanup_settings(participant_data_retention_seconds=7 * DAY))
    assert again.participants_purged == 0


async def test_ended_rooms_past_retention_are_deleted_with_their_participants(
    moot: Moot, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    host = await moot.guest()
    guest = await moot.guest()
    old = await host.create_room()
    await guest.join(old["code"], "Guest")
    recent = await host.create_room()
    for room in (old, recent):
        assert (await host.post(f"/api/v1/rooms/{room['code']}/end")).status_code == 200
    await age_room(db, old, "ended_at", "31 days")
    await age_room(db, recent, "ended_at", "29 days")

    report = await run_cleanup(pool, cleanup_settings(ended_room_retention_seconds=30 * DAY))

    assert report.rooms_deleted == 1
    assert await room_row(db, old) is None
    assert (
        await db.fetchval(
            "SELECT count(*) FROM room_participants WHERE room_id = $1", uuid.UUID(old["id"])
        )
        == 0
    )
    assert (await room_row(db, recent))["status"] == "ended"
    assert (await moot.http.get(f"/api/v1/rooms/{old['code']}")).status_code == 404


async def test_a_deleted_room_takes_its_chat_and_event_log_with_it(
    moot: Moot, db: asyncpg.Connection, redis: Redis
) -> None:
    host = await moot.guest()
    old, recent = await host.create_room(), await host.create_room()
    for room in (old, recent):
        sent = await host.post(f"/api/v1/rooms/{room['code']}/chat/messages", {"content": "hi"})
        assert sent.status_code == 201, sent.text
        assert (await host.post(f"/api/v1/rooms/{room['code']}/end")).status_code == 200
    await age_room(db, old, "ended_at", "31 days")

    def keys(room: dict[str, Any]) -> list[str]:
        return [
            f"chat:room:{room['id']}:messages",
            f"chat:room:{room['id']}:index",
            f"room:{room['id']}:log",
        ]

    assert await redis.exists(*keys(old)) == 3
    report = await moot.app.state.services.rooms.clean_up()

    assert report.deleted_room_ids == [uuid.UUID(old["id"])]
    assert await redis.exists(*keys(old)) == 0
    assert await redis.exists(*keys(recent)) == 3  # ended, but kept until its retention


async def test_active_rooms_are_never_deleted_however_old(
    moot: Moot, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    host = await moot.guest()
    room = await host.create_room()
    await age_room(db, room, "created_at", "400 days")
    report = await run_cleanup(pool, cleanup_settings(ended_room_retention_seconds=1))
    assert report.rooms_deleted == 0
    assert (await room_row(db, room))["status"] == "active"


async def test_a_pass_is_skipped_while_another_instance_holds_the_cleanup_lock(
    moot: Moot, stores: Stores, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    room = await empty_room(moot)
    await age_room(db, room, "last_activity_at", "2 hours")
    other = await asyncpg.connect(stores.database_url)
    try:
        transaction = other.transaction()
        await transaction.start()
        await other.execute("SELECT pg_advisory_xact_lock($1)", CLEANUP_LOCK)

        report = await run_cleanup(pool, cleanup_settings())

        assert counts(report) == tally(ran=False)
        assert (await room_row(db, room))["status"] == "active"
        await transaction.rollback()
    finally:
        await other.close()
    # Once the other instance is done, the next pass does the work.
    assert (await run_cleanup(pool, cleanup_settings())).ended_idle == 1


async def test_the_cleanup_command_runs_one_pass_and_prints_its_report(
    moot: Moot, stores: Stores, db: asyncpg.Connection, tmp_path: Path
) -> None:
    idle = await empty_room(moot)
    await age_room(db, idle, "last_activity_at", "1 hour")
    fresh = await empty_room(moot)

    env = {k: v for k, v in os.environ.items() if not k.startswith("MOOT_")}
    env.update(
        MOOT_DATABASE_URL=stores.database_url,
        MOOT_REDIS_URL=stores.redis_url,
        MOOT_SECRET_KEY=SECRET,
        MOOT_DATA_DIR=str(tmp_path / "data"),
        MOOT_LOG_FORMAT="json",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "moot.cli",
        "cleanup",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(120):
        stdout, stderr = await process.communicate()

    assert process.returncode == 0, stderr.decode()
    report = json.loads(stdout.decode().strip().splitlines()[-1])
    assert report["ran"] is True
    assert report["ended_idle"] == 1
    assert (await room_row(db, idle))["end_reason"] == "idle"
    assert (await room_row(db, fresh))["status"] == "active"
    # Anyone still connected to the room hears it ended, as with the loop inside `serve`.
    log = moot.app.state.services.log
    events = await log.events_since(f"room:{idle['id']}", "0-0")
    assert any(b'"room.ended"' in event for _, event in events)

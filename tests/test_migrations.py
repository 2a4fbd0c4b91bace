"""The migration runner against real PostgreSQL: in order, once, safe to start concurrently."""

from __future__ import annotations

import ast
import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from moot.infra.postgres import MIGRATION_LOCK, load_migrations, migrate, migrate_url
from tests.conftest import TestStores as Stores
from tests.conftest import _with_database

MIGRATE_SCRIPT = (
    "import asyncio, sys; from moot.infra.postgres import migrate_url; "
    "print(asyncio.run(migrate_url(sys.argv[1])))"
)


@pytest.fixture
async def fresh_database(stores: Stores) -> AsyncIterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    name = f"moot_migrate_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(stores.admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(stores.admin_url, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {r["tablename"] for r in rows}


async def recorded(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
    return [r["name"] for r in rows]


def write_migrations(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql, encoding="utf-8")
    return directory


# -- loading -------------------------------------------------------------------------------


def test_the_shipped_migrations_are_found_in_order() -> None:
    migrations = load_migrations()
    names = [m.name for m in migrations]
    assert names[0] == "0001_rooms"
    assert names == sorted(names)
    assert [m.version for m in migrations] == [n[:4] for n in names]
    assert "CREATE TABLE rooms" in migrations[0].sql


def test_migrations_are_ordered_by_number_not_by_discovery(tmp_path: Path) -> None:
    write_migrations(
        tmp_path,
        {"0010_ten.sql": "SELECT 10;", "0002_two.sql": "SELECT 2;", "0001_one.sql": "SELECT 1;"},
    )
    assert [m.name for m in load_migrations(tmp_path)] == ["0001_one", "0002_two", "0010_ten"]


@pytest.mark.parametrize("bad_name", ["1_short.sql", "0001-dash.sql", "0001_Upper.sql", "x.sql"])
def test_a_badly_named_migration_file_is_refused(tmp_path: Path, bad_name: str) -> None:
    write_migrations(tmp_path, {"0001_fine.sql": "SELECT 1;", bad_name: "SELECT 2;"})
    with pytest.raises(ValueError, match="NNNN_name"):
        load_migrations(tmp_path)


def test_two_migrations_with_one_number_are_refused(tmp_path: Path) -> None:
    write_migrations(tmp_path, {"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 2;"})
    with pytest.raises(ValueError, match="share a number"):
        load_migrations(tmp_path)


# -- applying ------------------------------------------------------------------------------


async def test_a_fresh_database_gets_every_migration_recorded(fresh_database: str) -> None:
    applied = await migrate_url(fresh_database)
    assert applied == [m.name for m in load_migrations()]
    conn = await asyncpg.connect(fresh_database)
    try:
        assert {"rooms", "room_participants", "schema_migrations"} <= await tables(conn)
        assert await recorded(conn) == applied
    finally:
        await conn.close()


async def test_applying_migrations_twice_is_a_no_op(stores: Stores) -> None:
    # The session database was migrated when the stores started.
    assert await migrate_url(stores.database_url) == []
    assert await migrate_url(stores.database_url) == []
    conn = await asyncpg.connect(stores.database_url)
    try:
        assert await recorded(conn) == [m.name for m in load_migrations()]
    finally:
        await conn.close()


async def test_only_pending_migrations_are_applied(fresh_database: str, tmp_path: Path) -> None:
    directory = write_migrations(tmp_path, {"0001_first.sql": "CREATE TABLE first (id int);"})
    conn = await asyncpg.connect(fresh_database)
    try:
        assert await migrate(conn, directory=directory) == ["0001_first"]
        write_migrations(directory, {"0002_second.sql": "CREATE TABLE second (id int);"})
        assert await migrate(conn, directory=directory) == ["0002_second"]
        assert await migrate(conn, directory=directory) == []
        assert await recorded(conn) == ["0001_first", "0002_second"]
    finally:
        await conn.close()


async def test_concurrent_starters_apply_each_migration_exactly_once(
    fresh_database: str,
) -> None:
    """Five tasks and two OS processes migrate one empty database at the same moment."""
    expected = [m.name for m in load_migrations()]
    gate = await asyncpg.connect(fresh_database)
    try:
        # Hold the migration lock so every starter is queued on it before any can proceed.
        await gate.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                MIGRATE_SCRIPT,
                fresh_database,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        tasks = [asyncio.create_task(migrate_url(fresh_database)) for _ in range(5)]

        async def waiting() -> int:
            count: int = await gate.fetchval(
                """
                SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
                WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()
                """
            )
            return count

        for _ in range(1200):  # up to a minute for the two interpreters to start
            if await waiting() == 7:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"only {await waiting()} of 7 starters queued on the lock")
        await gate.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)

        async with asyncio.timeout(120):
            in_process = await asyncio.gather(*tasks)
            outputs = [await p.communicate() for p in processes]
        for process, (_, stderr) in zip(processes, outputs, strict=True):
            assert process.returncode == 0, stderr.decode()
        # structlog may print a line per migration first; the result is the last line.
        out_of_process = [
            ast.literal_eval(stdout.decode().strip().splitlines()[-1]) for stdout, _ in outputs
        ]

        results = [*in_process, *out_of_process]
        assert sorted(results, key=len) == [[]] * 6 + [expected]
        assert await recorded(gate) == expected
        assert await gate.fetchval("SELECT count(*) FROM schema_migrations") == len(expected)
        assert {"rooms", "room_participants"} <= await tables(gate)
    finally:
        await gate.close()


async def test_a_failing_migration_is_rolled_back_and_not_recorded(
    fresh_database: str, tmp_path: Path
) -> None:
    directory = write_migrations(
        tmp_path,
        {
            "0001_ok.sql": "CREATE TABLE ok_table (id int PRIMARY KEY);",
            "0002_bad.sql": (
                "CREATE TABLE half_done (id int);\n"
                "INSERT INTO half_done VALUES (1);\n"
                "SELECT * FROM no_such_table;\n"
            ),
            "0003_later.sql": "CREATE TABLE later_table (id int);",
        },
    )
    conn = await asyncpg.connect(fresh_database)
    try:
        with pytest.raises(asyncpg.UndefinedTableError):
            await migrate(conn, directory=directory)
        assert await recorded(conn) == ["0001_ok"]
        found = await tables(conn)
        assert "ok_table" in found
        assert "half_done" not in found
        assert "later_table" not in found  # nothing after the failure ran

        # The lock was let go: another starter is not blocked, and a fixed migration applies.
        other = await asyncpg.connect(fresh_database)
        try:
            assert await other.fetchval("SELECT pg_try_advisory_lock($1)", MIGRATION_LOCK)
            await other.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        finally:
            await other.close()
        write_migrations(directory, {"0002_bad.sql": "CREATE TABLE half_done (id int);"})
        assert await migrate(conn, directory=directory) == ["0002_bad", "0003_later"]
        assert await recorded(conn) == ["0001_ok", "0002_bad", "0003_later"]
    finally:
        await conn.close()


async def test_transcription_state_moves_to_its_own_table(
    fresh_database: str, tmp_path: Path
) -> None:
    """0004 carries each room's transcription state over from `rooms` and drops the columns;
    a room that never transcribed gets no row (it reads as idle, nothing used)."""
    shipped = {f"{m.name}.sql": m.sql for m in load_migrations()}
    before = write_migrations(
        tmp_path / "before", {name: sql for name, sql in shipped.items() if name < "0004"}
    )
    conn = await asyncpg.connect(fresh_database)
    try:
        await migrate(conn, before)
        host = uuid.uuid4()
        ids = []
        for code, designated, status, seconds in (
            ("abc-defg-hij", host, "active", 12.5),
            ("abc-defg-hik", None, "idle", 0.0),
        ):
            ids.append(
                await conn.fetchval(
                    """
                    INSERT INTO rooms (code, livekit_room_name, title, transcription_host_id,
                                       transcription_status, transcription_started_at,
                                       transcription_seconds)
                    VALUES ($1, $1, 'r', $2, $3, now(), $4) RETURNING id
                    """,
                    code,
                    designated,
                    status,
                    seconds,
                )
            )
        used, idle = ids
        await conn.execute("UPDATE rooms SET transcription_started_at = NULL WHERE id = $1", idle)

        await migrate(conn)

        rows = await conn.fetch("SELECT * FROM room_transcriptions")
        assert [(r["room_id"], r["host_id"], r["status"], r["seconds"]) for r in rows] == [
            (used, host, "active", 12.5)
        ]
        assert rows[0]["started_at"] is not None
        columns = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'rooms'"
        )
        assert not [c for c in columns if c["column_name"].startswith("transcription_")]
    finally:
        await conn.close()

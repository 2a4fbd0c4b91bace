"""The asyncpg pool and the migration runner."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

log = structlog.get_logger(__name__)

# pg_advisory_lock keys: one per kind of exclusive work, fixed so every instance agrees.
MIGRATION_LOCK = 0x6D6F6F74_0001  # "moot" + 1
CLEANUP_LOCK = 0x6D6F6F74_0002

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """On release, asyncpg still rolls back a stray transaction; what it would also run by
    default (`RESET ALL; UNLISTEN *; CLOSE ALL; unlock advisory locks`) is one more round trip
    per request for state moot never leaves behind: no SET, LISTEN, cursors or session locks
    on pool connections (the migration lock uses a connection of its own)."""


async def create_pool(dsn: str, min_size: int, max_size: int) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        command_timeout=30,
        reset=_keep_session,
        server_settings={"application_name": "moot", "timezone": "UTC"},
    )
    assert pool is not None
    return pool


def migrations_dir() -> Path:
    """Migrations ship inside the wheel as moot/migrations; in a checkout they are at the top."""
    packaged = Path(__file__).resolve().parent.parent / "migrations"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "migrations"


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str


def load_migrations(directory: Path | None = None) -> list[Migration]:
    directory = directory or migrations_dir()
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name} is not named NNNN_name.sql")
        found.append(Migration(match.group(1), path.stem, path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(versions) != len(set(versions)):
        raise ValueError(f"two migrations share a number in {directory}")
    return found


async def migrate(conn: asyncpg.Connection, directory: Path | None = None) -> list[str]:
    """Apply pending migrations in order, each in its own transaction; return what was applied.

    The session-level advisory lock makes concurrent starters wait for the first one and then
    find nothing left to do.
    """
    migrations = load_migrations(directory)
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version text PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for migration in migrations:
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            log.info("migration_applied", migration=migration.name)
            applied_now.append(migration.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    return applied_now


async def migrate_url(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn)
    finally:
        await conn.close()

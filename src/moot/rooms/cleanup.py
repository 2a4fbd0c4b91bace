"""Ending idle and expired rooms, forgetting participants' IPs and user agents, deleting
expired account sessions, and letting the keeper of kept rooms apply its retention (spaces:
past meeting sessions older than a space keeps them).

Runs as `moot cleanup` and every MOOT_CLEANUP_INTERVAL_SECONDS inside `moot serve`. A
transaction-level advisory lock lets exactly one instance do a pass at a time; the others skip.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import msgspec
import structlog
from redis.exceptions import RedisError

from moot.accounts.service import purge_expired_sessions
from moot.infra.metrics import Metrics
from moot.infra.postgres import CLEANUP_LOCK
from moot.rooms.store import Conn
from moot.settings import RoomSettings

log = structlog.get_logger(__name__)


class CleanupReport(msgspec.Struct, kw_only=True):
    ran: bool
    ended_room_ids: list[uuid.UUID] = msgspec.field(default_factory=list)
    deleted_room_ids: list[uuid.UUID] = msgspec.field(default_factory=list)
    ended_idle: int = 0
    ended_expired: int = 0
    participants_purged: int = 0
    rooms_deleted: int = 0
    sessions_deleted: int = 0
    meetings_expired: int = 0  # records of past meetings in kept rooms (space sessions)


_END_ROOMS = """
    WITH ended AS (
        UPDATE rooms SET status = 'ended', ended_at = now(), end_reason = $1, updated_at = now()
        WHERE id IN (SELECT id FROM rooms WHERE status = 'active' AND {condition}
                     FOR UPDATE SKIP LOCKED)
        RETURNING id
    ), seats AS (
        UPDATE room_participants SET left_at = now(), left_reason = 'room_ended'
        WHERE room_id IN (SELECT id FROM ended) AND left_at IS NULL
    )
    SELECT id FROM ended
"""

# Idle: nobody is in the room and nothing has happened in it for the idle timeout. A kept
# room (a space's) never idles out: it waits for its next meeting. It has no expires_at.
_IDLE = """
    NOT persistent
    AND last_activity_at < now() - make_interval(secs => $2)
    AND NOT EXISTS (SELECT 1 FROM room_participants p
                    WHERE p.room_id = rooms.id AND p.left_at IS NULL)
"""
_EXPIRED = "expires_at IS NOT NULL AND expires_at < now()"

_PURGE_PERSONAL_DATA = """
    UPDATE room_participants SET client_ip = NULL, user_agent = NULL
    WHERE left_at < now() - make_interval(secs => $1)
      AND (client_ip IS NOT NULL OR user_agent IS NOT NULL)
"""

_DELETE_OLD_ROOMS = """
    DELETE FROM rooms WHERE status = 'ended' AND ended_at < now() - make_interval(secs => $1)
    RETURNING id
"""


# Retention run by the keeper of kept rooms, inside the pass's transaction: rows deleted.
Expire = Callable[[Conn], Awaitable[int]]


async def run_cleanup(
    pool: asyncpg.Pool,
    settings: RoomSettings,
    metrics: Metrics | None = None,
    expire: Expire | None = None,
) -> CleanupReport:
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", CLEANUP_LOCK):
            if metrics:
                metrics.cleanup_runs.labels("skipped").inc()
            return CleanupReport(ran=False)
        idle = await conn.fetch(
            _END_ROOMS.format(condition=_IDLE), "idle", settings.idle_timeout_seconds
        )
        expired = await conn.fetch(_END_ROOMS.format(condition=_EXPIRED), "expired")
        purged = await conn.execute(
            _PURGE_PERSONAL_DATA, settings.participant_data_retention_seconds
        )
        deleted = await conn.fetch(_DELETE_OLD_ROOMS, settings.ended_room_retention_seconds)
        sessions_deleted = await purge_expired_sessions(conn)
        meetings_expired = await expire(conn) if expire is not None else 0
    report = CleanupReport(
        ran=True,
        ended_idle=len(idle),
        ended_expired=len(expired),
        ended_room_ids=[r["id"] for r in (*idle, *expired)],
        deleted_room_ids=[r["id"] for r in deleted],
        participants_purged=int(purged.split()[-1]),
        rooms_deleted=len(deleted),
        sessions_deleted=sessions_deleted,
        meetings_expired=meetings_expired,
    )
    if metrics:
        metrics.cleanup_runs.labels("ran").inc()
        metrics.rooms_ended_by_cleanup.labels("idle").inc(len(idle))
        metrics.rooms_ended_by_cleanup.labels("expired").inc(len(expired))
    log.info(
        "cleanup_pass",
        ended_idle=report.ended_idle,
        ended_expired=report.ended_expired,
        participants_purged=report.participants_purged,
        rooms_deleted=report.rooms_deleted,
        sessions_deleted=report.sessions_deleted,
        meetings_expired=report.meetings_expired,
    )
    return report


async def cleanup_forever(
    settings: RoomSettings, metrics: Metrics, clean_up: Callable[[], Awaitable[CleanupReport]]
) -> None:
    """The periodic task inside `moot serve`: `clean_up` is the room service's pass (this
    module's, and what follows from it in Redis and LiveKit). A failed pass is logged and
    tried again later."""
    while True:
        await asyncio.sleep(settings.cleanup_interval_seconds)
        try:
            await clean_up()
        except (asyncpg.PostgresError, RedisError, OSError) as exc:
            metrics.cleanup_runs.labels("failed").inc()
            log.warning("cleanup_failed", error=type(exc).__name__)

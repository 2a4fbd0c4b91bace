"""Who transcribes a room, and starting and stopping it (the API side; the worker is apart).

The transcription host is the participant the room host designated, or the room host. `start`
records the run in PostgreSQL (status) and in Redis (`transcription:room:{id}:run`, the run id
the worker token carries); `stop`, a new designation or the transcription host leaving delete
the run key, and the worker ends any session whose run is gone. Ending the meeting ends the
run too: the worker also checks the room in PostgreSQL, so a lost key delete cannot keep a run
of an ended meeting alive.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Literal

import asyncpg
import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from moot.errors import MootError
from moot.rooms.service import RoomService
from moot.settings import Settings
from moot.transcription import store
from moot.transcription.events import TranscriptionEvents
from moot.transcription.tokens import WorkerTokens

log = structlog.get_logger(__name__)


def run_key(room_id: uuid.UUID) -> str:
    return f"transcription:room:{room_id}:run"


class TranscriptionState(msgspec.Struct, kw_only=True):
    enabled: bool
    status: Literal["idle", "active"]
    host_id: uuid.UUID | None  # the transcription host: designated, else the room host
    started_at: datetime | None
    seconds_used: float
    seconds_limit: int


class TranscriptionStart(TranscriptionState, kw_only=True):
    """Stream PCM16 mono 16 kHz audio as binary frames to `worker_url?token=<token>`."""

    worker_url: str
    token: str
    expires_in: int


class DesignateHost(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    participant_id: uuid.UUID


class TranscriptionRuns:
    """A room's run: its state, and its end when it is released (stop, a new transcription
    host, the transcription host leaving). Needs no room service, so the room service can be
    built with `released` as its hook."""

    def __init__(
        self, pool: asyncpg.Pool, redis: Redis, settings: Settings, events: TranscriptionEvents
    ) -> None:
        self._pool = pool
        self._redis = redis
        self._settings = settings
        self.events = events

    async def released(self, room_id: uuid.UUID) -> None:
        """The run ended (stop, new designation, the transcription host left)."""
        await self._redis.delete(run_key(room_id))
        state = await self.state(room_id)
        await self.events.updated(room_id, state.status, state.host_id)

    async def ended(self, room_id: uuid.UUID) -> None:
        """The meeting ended (PostgreSQL already says the run is idle): the worker closes the
        audio socket once the run key is gone. Redis failing here is logged; the worker reads
        the room's end from PostgreSQL as well."""
        try:
            await self._redis.delete(run_key(room_id))
        except (RedisError, OSError) as exc:
            log.warning("transcription_run_not_ended", error=type(exc).__name__)

    async def state(self, room_id: uuid.UUID) -> TranscriptionState:
        async with self._pool.acquire() as conn:
            row = await store.transcription_state(conn, room_id)
        if row is None:
            raise MootError("room_not_found")
        return TranscriptionState(
            enabled=self._settings.transcription_enabled and bool(self._settings.gladia_api_key),
            status=row["transcription_status"],
            host_id=row["effective_host"],
            started_at=row["transcription_started_at"],
            seconds_used=round(row["transcription_seconds"], 3),
            seconds_limit=self._settings.transcription_max_seconds_per_room,
        )


class TranscriptionControl:
    def __init__(
        self,
        pool: asyncpg.Pool,
        redis: Redis,
        settings: Settings,
        rooms: RoomService,
        runs: TranscriptionRuns,
        tokens: WorkerTokens,
    ) -> None:
        self._pool = pool
        self._redis = redis
        self._settings = settings
        self._rooms = rooms
        self._runs = runs
        self._tokens = tokens

    async def state(self, room_id: uuid.UUID, participant_id: uuid.UUID) -> TranscriptionState:
        room, _ = await self._rooms.seat_and_room(room_id, participant_id)
        return await self._runs.state(room.id)

    async def start(
        self, room_id: uuid.UUID, participant_id: uuid.UUID, worker_url: str
    ) -> TranscriptionStart:
        settings = self._settings
        if not settings.transcription_enabled:
            raise MootError("transcription_disabled")
        if not settings.gladia_api_key:
            raise MootError("transcription_not_configured")
        room, _ = await self._rooms.seat_and_room(room_id, participant_id)
        run = secrets.token_urlsafe(12)
        async with self._pool.acquire() as conn, conn.transaction():
            await store.lock_room(conn, room.id)
            row = await store.transcription_state(conn, room.id)
            assert row is not None
            if row["room_status"] != "active":
                raise MootError("room_ended")  # ended between the seat check and the lock
            if row["effective_host"] != participant_id:
                raise MootError("not_transcription_host")
            if row["transcription_seconds"] >= settings.transcription_max_seconds_per_room:
                raise MootError(
                    "transcription_limit_reached",
                    seconds_limit=settings.transcription_max_seconds_per_room,
                )
            # Starting again while running (a reload) hands out a fresh token for a new run.
            await store.set_transcription(
                conn, room.id, status="active", started=row["transcription_status"] != "active"
            )
            await self._redis.set(
                run_key(room.id), run, ex=settings.transcription_max_seconds_per_room
            )
        state = await self._runs.state(room.id)
        await self._runs.events.updated(room.id, state.status, state.host_id)
        return TranscriptionStart(
            **msgspec.structs.asdict(state),
            worker_url=worker_url,
            token=self._tokens.issue(room.id, participant_id, run),
            expires_in=self._tokens.ttl_seconds,
        )

    async def stop(self, room_id: uuid.UUID, participant_id: uuid.UUID) -> TranscriptionState:
        room, seat = await self._rooms.seat_and_room(room_id, participant_id)
        async with self._pool.acquire() as conn, conn.transaction():
            await store.lock_room(conn, room.id)
            row = await store.transcription_state(conn, room.id)
            assert row is not None
            if row["effective_host"] != participant_id and seat.role != "host":
                raise MootError("not_transcription_host")
            if row["transcription_status"] != "active":
                raise MootError("transcription_not_active")
            await store.set_transcription(conn, room.id, status="idle")
        await self._runs.released(room.id)
        return await self._runs.state(room.id)

    async def designate(
        self, room_id: uuid.UUID, host_id: uuid.UUID, target_id: uuid.UUID
    ) -> TranscriptionState:
        """The room host picks who transcribes; a running transcription stops."""
        room, seat = await self._rooms.seat_and_room(room_id, host_id)
        if seat.role != "host":
            raise MootError("not_host")
        if not await self._rooms.is_present(room.id, target_id):
            raise MootError("participant_not_found")
        async with self._pool.acquire() as conn, conn.transaction():
            await store.lock_room(conn, room.id)
            await store.set_transcription_host(conn, room.id, target_id)
        await self._runs.released(room.id)
        return await self._runs.state(room.id)

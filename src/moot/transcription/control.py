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
from moot.rooms.members import RoomMembers
from moot.rooms.service import RoomService
from moot.settings import TranscriptionSettings
from moot.transcription import store
from moot.transcription.events import TranscriptionEvents
from moot.transcription.tokens import WorkerTokens

log = structlog.get_logger(__name__)


def run_key(room_id: uuid.UUID) -> str:
    return f"transcription:room:{room_id}:run"


def cleared_key(room_id: uuid.UUID) -> str:
    """When the host last deleted the room's transcript (epoch seconds, PostgreSQL's clock)."""
    return f"transcription:room:{room_id}:cleared"


class TranscriptionState(msgspec.Struct, kw_only=True):
    enabled: bool
    status: Literal["idle", "active"]
    host_id: uuid.UUID | None  # the transcription host: designated, else the room host
    started_at: datetime | None
    seconds_used: float  # audio transcribed, over closed worker sessions
    channel_seconds_used: float  # what Gladia bills: each session's seconds times its channels
    seconds_limit: int
    max_channels: int  # speakers one audio socket may carry (MOOT_TRANSCRIPTION_MAX_CHANNELS)


class TranscriptionStart(TranscriptionState, kw_only=True):
    """Stream PCM16 16 kHz audio as binary frames to `worker_url?token=<token>`: mono, or
    after a `{"type": "channels", "participant_ids": [...]}` text frame, interleaved."""

    worker_url: str
    token: str
    expires_in: int


class DesignateHost(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    participant_id: uuid.UUID


class RunState(msgspec.Struct, frozen=True, kw_only=True):
    room_active: bool  # the meeting goes on
    active: bool  # and its transcription runs
    seconds: float  # audio transcribed over closed sessions
    created_at: datetime  # the room's: transcript offsets count from it


class TranscriptionRuns:
    """A room's run: its state, and its end when it is released (stop, a new transcription
    host, the transcription host leaving). Needs no room service, so the room service can be
    built with it as its `SeatRoles`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        redis: Redis,
        settings: TranscriptionSettings,
        events: TranscriptionEvents,
        members: RoomMembers,
    ) -> None:
        self._pool = pool
        self._redis = redis
        self._settings = settings
        self.events = events
        self.members = members

    async def release(
        self, conn: store.Conn, room_id: uuid.UUID, participant_id: uuid.UUID, was_host: bool
    ) -> bool:
        """A seat is leaving the room (in the leave's transaction): drop its role."""
        return await store.release_host(conn, room_id, participant_id, was_host)

    async def released(self, room_id: uuid.UUID) -> None:
        """The run ended (stop, new designation, the transcription host left)."""
        await self._redis.delete(run_key(room_id))
        state = await self.state(room_id)
        await self.events.updated(room_id, state.status, state.host_id)

    async def ended(self, room_id: uuid.UUID) -> None:
        """The meeting ended: its run is over. The worker closes the audio socket once the run
        key is gone, and refuses tokens of the run; it also reads the room's end from
        PostgreSQL, so a failure here (logged) cannot keep a run going."""
        try:
            async with self._pool.acquire() as conn:
                await store.set_status(conn, room_id, "idle")
            await self._redis.delete(run_key(room_id))
        except (RedisError, OSError, asyncpg.PostgresError) as exc:
            log.warning("transcription_run_not_ended", error=type(exc).__name__)

    async def run(self, room_id: uuid.UUID) -> RunState | None:
        """What the worker checks a run against (None: no such room)."""
        async with self._pool.acquire() as conn:
            room = await self.members.room(conn, room_id)
            if room is None:
                return None
            row = await store.room_transcription(conn, room_id)
        room_active = room.status == "active"
        return RunState(
            room_active=room_active,
            active=room_active and row.status == "active",
            seconds=row.seconds,
            created_at=room.created_at,
        )

    async def state(self, room_id: uuid.UUID) -> TranscriptionState:
        async with self._pool.acquire() as conn:
            return await self.state_in(conn, room_id)

    async def state_in(self, conn: store.Conn, room_id: uuid.UUID) -> TranscriptionState:
        row = await store.room_transcription(conn, room_id)
        return TranscriptionState(
            enabled=self._settings.enabled and bool(self._settings.gladia_api_key),
            status=row.status,
            host_id=await self.members.present_or_host(conn, room_id, row.host_id),
            started_at=row.started_at,
            seconds_used=round(row.seconds, 3),
            channel_seconds_used=round(row.channel_seconds, 3),
            seconds_limit=self._settings.max_seconds_per_room,
            max_channels=self._settings.max_channels,
        )

    async def cleared(self, room_id: uuid.UUID, at: datetime) -> None:
        """The transcript was deleted at `at`: workers drop the finals of sessions opened
        before it (a missed write only delays that to the session's end)."""
        try:
            await self._redis.set(
                cleared_key(room_id), at.timestamp(), ex=self._settings.max_seconds_per_room
            )
        except (RedisError, OSError) as exc:
            log.warning("transcript_clear_not_announced", error=type(exc).__name__)

    async def cleared_since(self, room_id: uuid.UUID, opened: datetime) -> bool:
        """Whether the transcript was deleted after `opened` (a worker session's start)."""
        try:
            at = await self._redis.get(cleared_key(room_id))
        except (RedisError, OSError):
            return False  # the session's end deletes what it stored meanwhile
        return at is not None and float(at) >= opened.timestamp()

    async def finish(self, room_id: uuid.UUID) -> None:
        """The run's audio stopped for good: the room goes idle (the worker's end of a run)."""
        async with self._pool.acquire() as conn:
            await store.set_status(conn, room_id, "idle")
        await self.released(room_id)


class TranscriptionControl:
    def __init__(
        self,
        pool: asyncpg.Pool,
        redis: Redis,
        settings: TranscriptionSettings,
        rooms: RoomService,
        runs: TranscriptionRuns,
        tokens: WorkerTokens,
    ) -> None:
        self._pool = pool
        self._redis = redis
        self.settings = settings
        self._rooms = rooms
        self._runs = runs
        self._tokens = tokens

    async def state(self, room_id: uuid.UUID, participant_id: uuid.UUID) -> TranscriptionState:
        """For the room's participants, and after the end for those who were in it."""
        room = await self._rooms.attended_room(room_id, participant_id)
        return await self._runs.state(room.id)

    async def start(
        self, room_id: uuid.UUID, participant_id: uuid.UUID, worker_url: str
    ) -> TranscriptionStart:
        settings = self.settings
        if not settings.enabled:
            raise MootError("transcription_disabled")
        if not settings.gladia_api_key:
            raise MootError("transcription_not_configured")
        room, _ = await self._rooms.seat_and_room(room_id, participant_id)
        run = secrets.token_urlsafe(12)
        async with self._pool.acquire() as conn, conn.transaction():
            await self._runs.members.lock(conn, room.id)
            locked = await self._runs.members.room(conn, room.id)
            if locked is None or locked.status != "active":
                raise MootError("room_ended")  # ended between the seat check and the lock
            now = await self._runs.state_in(conn, room.id)
            if now.host_id != participant_id:
                raise MootError("not_transcription_host")
            if now.seconds_used >= settings.max_seconds_per_room:
                raise MootError(
                    "transcription_limit_reached",
                    seconds_limit=settings.max_seconds_per_room,
                )
            # Starting again while running (a reload) hands out a fresh token for a new run.
            await store.set_status(conn, room.id, "active")
            await self._redis.set(run_key(room.id), run, ex=settings.max_seconds_per_room)
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
            await self._runs.members.lock(conn, room.id)
            now = await self._runs.state_in(conn, room.id)
            if now.host_id != participant_id and seat.role != "host":
                raise MootError("not_transcription_host")
            if now.status != "active":
                raise MootError("transcription_not_active")
            await store.set_status(conn, room.id, "idle")
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
            await self._runs.members.lock(conn, room.id)
            await store.set_host(conn, room.id, target_id)
        await self._runs.released(room.id)
        return await self._runs.state(room.id)

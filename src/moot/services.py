"""The composition root: every service built once, in one place, from settings and stores,
and handed to whoever needs it (the app's lifespan, `moot cleanup`, the tests).

Handlers take one `services` dependency (and `participant`, which depends on it) rather than a
dependency per service: Litestar resolves dependencies of the same depth concurrently in a task
group, which cost about a tenth of the server's CPU on the join path (README, Performance).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
from litestar.datastructures import State
from litestar.di import NamedDependency
from redis.asyncio import Redis

from moot.accounts.service import AccountService
from moot.chat.service import ChatService
from moot.chat.store import ChatStore
from moot.identity.service import IdentityService
from moot.infra.metrics import Metrics
from moot.infra.postgres import create_pool
from moot.infra.ratelimit import RateLimiter
from moot.infra.redis import create_redis
from moot.media.livekit import LiveKit
from moot.media.service import MediaService
from moot.realtime.gateway import Gateway, KindHooks
from moot.realtime.hub import Hub
from moot.realtime.log import TopicLog
from moot.realtime.tickets import SocketTickets
from moot.rooms.events import RoomEvents
from moot.rooms.members import RoomMembers
from moot.rooms.presence import Presence
from moot.rooms.service import RoomService
from moot.rooms.topic import RoomTopic, SocketLimits
from moot.settings import Settings
from moot.spaces.service import SpaceService
from moot.transcription.control import TranscriptionControl, TranscriptionRuns
from moot.transcription.events import TranscriptionEvents
from moot.transcription.history import TranscriptHistory
from moot.transcription.tokens import WorkerTokens
from moot.transcription.worker import TranscriptionWorker
from moot.transcription.writer import BatchWriter


@dataclass(frozen=True, slots=True)
class Stores:
    pool: asyncpg.Pool
    redis: Redis


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    metrics: Metrics
    pool: asyncpg.Pool
    redis: Redis
    limiter: RateLimiter
    identity: IdentityService
    accounts: AccountService
    spaces: SpaceService
    tickets: SocketTickets
    log: TopicLog
    hub: Hub
    gateway: Gateway
    rooms: RoomService
    room_topic: RoomTopic
    presence: Presence
    chat: ChatService
    media: MediaService
    transcription: TranscriptionControl
    transcripts: TranscriptHistory
    worker: TranscriptionWorker | None


@contextlib.asynccontextmanager
async def open_stores(
    settings: Settings, database_url: str, redis_url: str
) -> AsyncIterator[Stores]:
    pool = await create_pool(database_url, settings.db_pool_min, settings.db_pool_max)
    redis = create_redis(redis_url)
    try:
        yield Stores(pool, redis)
    finally:
        await redis.aclose()
        await pool.close()


@contextlib.asynccontextmanager
async def build_services(
    settings: Settings,
    stores: Stores,
    *,
    secret_key: str,
    metrics: Metrics | None = None,
    with_worker: bool = False,
    with_sockets: bool = True,
) -> AsyncIterator[Services]:
    """Build every service in dependency order, start what runs, stop it all on exit.

    `with_sockets=False` is for a one-off command (`moot cleanup`): it publishes events but
    serves no socket, so the hub's pub/sub connection is never opened."""
    metrics = metrics or Metrics()
    pool, redis = stores.pool, stores.redis
    limiter = RateLimiter(
        redis,
        {
            "room_create": settings.rate_limit_room_create,
            "identity_create": settings.rate_limit_identity_create,
            "room_lookup": settings.rate_limit_room_lookup,
            "room_join": settings.rate_limit_room_join,
            "participant_requests": settings.rate_limit_participant_requests,
            "chat_message": settings.rate_limit_chat_message,
            "login_ip": settings.rate_limit_login_ip,
            "login_email": settings.rate_limit_login_email,
            "account_create": settings.rate_limit_account_create,
        },
        metrics,
        enabled=settings.rate_limit_enabled,
    )
    realtime = settings.realtime()
    log = TopicLog(redis, realtime.ttl_seconds, realtime.events_kept)
    members = RoomMembers(pool)
    chat = ChatService(ChatStore(redis, log), log, members, limiter, settings.chat())
    livekit_settings = settings.livekit()
    livekit = LiveKit(livekit_settings, redis) if livekit_settings is not None else None
    media = MediaService(settings.ice(), settings.mesh_max_participants, livekit, log, redis)
    transcription_events = TranscriptionEvents(log)
    transcription = settings.transcription()
    runs = TranscriptionRuns(pool, redis, transcription, transcription_events, members)
    rooms = RoomService(
        pool,
        settings.rooms(),
        limiter,
        members=members,
        events=RoomEvents(chat, log),
        media=media,
        livekit=livekit,
        seat_roles=runs,
    )
    spaces = SpaceService(pool)

    async def erase_account(conn: Any, account_id: uuid.UUID) -> None:
        await spaces.forget_account(conn, account_id)
        await rooms.forget_account(conn, account_id)

    accounts = AccountService(
        pool,
        settings,
        limiter,
        erase_account=erase_account,
        account_created=spaces.account_created,
    )
    presence = Presence(redis, settings.presence_grace_seconds)
    room_topic = RoomTopic(
        rooms,
        chat,
        log,
        presence,
        SocketLimits(
            typing_per_second=settings.ws_typing_per_second,
            signals_per_second=settings.ws_signals_per_second,
            signal_burst=settings.ws_signal_burst,
            seat_check_seconds=settings.ws_seat_check_seconds,
        ),
    )
    kinds = {"room": room_topic}
    hub = Hub(redis, log, KindHooks(kinds))
    gateway = Gateway(
        hub,
        log,
        kinds,
        queue_size=realtime.send_queue_size,
        queue_bytes=settings.ws_send_queue_bytes,
        max_frame_bytes=realtime.max_frame_bytes,
    )
    tokens = WorkerTokens(secret_key, settings.transcription_token_ttl_seconds)
    writer: BatchWriter | None = None
    worker: TranscriptionWorker | None = None
    if with_worker:
        writer = BatchWriter(
            pool,
            flush_interval=settings.transcript_flush_interval_ms / 1000,
            batch_size=settings.transcript_batch_size,
            metrics=metrics,
        )
        worker = TranscriptionWorker(transcription, pool, redis, runs, tokens, writer, metrics)
    services = Services(
        settings=settings,
        metrics=metrics,
        pool=pool,
        redis=redis,
        limiter=limiter,
        identity=IdentityService(secret_key),
        accounts=accounts,
        spaces=spaces,
        tickets=SocketTickets(redis, settings.ws_ticket_ttl_seconds),
        log=log,
        hub=hub,
        gateway=gateway,
        rooms=rooms,
        room_topic=room_topic,
        presence=presence,
        chat=chat,
        media=media,
        transcription=TranscriptionControl(pool, redis, transcription, rooms, runs, tokens),
        transcripts=TranscriptHistory(pool, rooms, runs),
        worker=worker,
    )
    if livekit is not None:
        await livekit.start()
    if writer is not None:
        writer.start()
    if with_sockets:
        await hub.start()
    try:
        yield services
    finally:
        if with_sockets:
            await hub.stop()
        if worker is not None:
            await worker.close()
        if writer is not None:
            # The sockets are closed by now; what the worker queued is written before exit.
            await writer.close(timeout=10)
        if livekit is not None:
            await livekit.stop()


def provide_services(state: State) -> Any:
    return state["services"]


# How handlers ask for them.
Svc = NamedDependency[Services]

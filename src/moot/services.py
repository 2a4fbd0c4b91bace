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

from moot.accounts.events import AccountEvents
from moot.accounts.service import AccountService
from moot.accounts.topic import UserTopic
from moot.channels.service import ChannelService
from moot.channels.store import SlowMode
from moot.channels.topic import ChannelTopic
from moot.chat.service import ChatService
from moot.chat.store import ChatStore
from moot.identity.service import IdentityService
from moot.infra.mail import Mailer
from moot.infra.metrics import Metrics
from moot.infra.postgres import create_pool
from moot.infra.ratelimit import RateLimiter
from moot.infra.redis import create_redis
from moot.media.livekit import LiveKit
from moot.media.service import MediaService
from moot.messages.service import MessageService
from moot.realtime.gateway import Gateway, KindHooks, TopicKind
from moot.realtime.hub import Hub
from moot.realtime.log import TopicLog
from moot.realtime.sessions import REVOKED_CHANNEL, SessionSockets
from moot.realtime.tickets import SocketTickets
from moot.rooms.events import RoomEvents
from moot.rooms.members import RoomMembers
from moot.rooms.presence import Presence
from moot.rooms.service import RoomService
from moot.rooms.topic import RoomTopic, SocketLimits
from moot.settings import Settings
from moot.spaces.events import SpaceEvents
from moot.spaces.meetings import SpaceMeetings
from moot.spaces.rooms import SpaceRooms
from moot.spaces.service import SpaceService
from moot.spaces.sessions import SpaceSessions
from moot.spaces.topic import SpaceTopic
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
    mailer: Mailer | None  # None without MOOT_SMTP_URL
    session_sockets: SessionSockets
    spaces: SpaceService
    space_rooms: SpaceRooms
    space_sessions: SpaceSessions
    space_topic: SpaceTopic
    messages: MessageService
    channels: ChannelService
    channel_topic: ChannelTopic
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
            "channel_message": settings.rate_limit_channel_message,
            "login_ip": settings.rate_limit_login_ip,
            "login_email": settings.rate_limit_login_email,
            "account_create": settings.rate_limit_account_create,
            "password_reset_ip": settings.rate_limit_password_reset_ip,
            "password_reset_email": settings.rate_limit_password_reset_email,
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
    space_events = SpaceEvents(log)
    presence = Presence(
        redis, settings.presence_grace_seconds, settings.presence_closed_tab_seconds
    )
    rooms = RoomService(
        pool,
        settings.rooms(),
        limiter,
        members=members,
        events=RoomEvents(chat, log),
        media=media,
        livekit=livekit,
        seat_roles=runs,
        keeper=SpaceMeetings(pool, space_events),
        presence=presence,
    )

    async def membership_changed(space_id: uuid.UUID, accounts: set[uuid.UUID]) -> None:
        await channels.membership_changed(space_id, accounts)  # built below, on spaces

    spaces = SpaceService(pool, rooms, space_events, membership_changed)
    space_topic = SpaceTopic(spaces)

    async def erase_account(conn: Any, account_id: uuid.UUID) -> None:
        await spaces.forget_account(conn, account_id)
        await rooms.forget_account(conn, account_id)

    mail_settings = settings.mail()
    mailer = Mailer(mail_settings) if mail_settings is not None else None
    accounts = AccountService(
        pool,
        settings,
        limiter,
        erase_account=erase_account,
        account_created=spaces.account_created,
        account_deleted=rooms.account_deleted,
        events=AccountEvents(log, redis),
        mailer=mailer,
    )
    session_sockets = SessionSockets(accounts, settings.ws_session_check_seconds)
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
    messages = MessageService(pool, log, limiter, settings.messages())
    channels = ChannelService(pool, spaces, messages, log, SlowMode(redis))
    channel_topic = ChannelTopic(channels, settings.channels())
    kinds: dict[str, TopicKind] = {
        "room": room_topic,
        "space": space_topic,
        "channel": channel_topic,
        "user": UserTopic(accounts),
    }
    hub = Hub(redis, log, KindHooks(kinds), broadcasts={REVOKED_CHANNEL: session_sockets})
    gateway = Gateway(
        hub,
        log,
        kinds,
        queue_size=realtime.send_queue_size,
        queue_bytes=settings.ws_send_queue_bytes,
        max_frame_bytes=realtime.max_frame_bytes,
        sessions=session_sockets,
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
        mailer=mailer,
        session_sockets=session_sockets,
        spaces=spaces,
        space_rooms=SpaceRooms(pool, rooms, space_events),
        space_sessions=SpaceSessions(pool, rooms),
        space_topic=space_topic,
        messages=messages,
        channels=channels,
        channel_topic=channel_topic,
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
        channel_topic.start()
        session_sockets.start()
    try:
        yield services
    finally:
        if with_sockets:
            await channel_topic.stop()
            await session_sockets.stop()
            await hub.stop()
        if mailer is not None:
            await mailer.close(within_seconds=settings.smtp_timeout_seconds)
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

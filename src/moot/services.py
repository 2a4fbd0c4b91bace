"""Everything a request handler may need, built once per app in its lifespan.

Handlers take one `services` dependency (and `participant`, which depends on it) rather than a
dependency per service: Litestar resolves dependencies of the same depth concurrently in a task
group, which cost about a tenth of the server's CPU on the join path (README, Performance).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
from litestar.datastructures import State
from litestar.di import NamedDependency
from redis.asyncio import Redis

from moot.chat.hub import RoomHub
from moot.chat.presence import Presence
from moot.chat.service import ChatService
from moot.identity.service import IdentityService
from moot.infra.metrics import Metrics
from moot.infra.ratelimit import RateLimiter
from moot.media.service import MediaService
from moot.rooms.service import RoomService
from moot.settings import Settings
from moot.transcription.control import TranscriptionControl
from moot.transcription.history import TranscriptHistory
from moot.transcription.worker import TranscriptionWorker


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    metrics: Metrics
    pool: asyncpg.Pool
    redis: Redis
    limiter: RateLimiter
    identity: IdentityService
    rooms: RoomService
    chat: ChatService
    hub: RoomHub
    presence: Presence
    media: MediaService
    transcription: TranscriptionControl
    transcripts: TranscriptHistory
    worker: TranscriptionWorker | None


def provide_services(state: State) -> Any:
    return state["services"]


# How handlers ask for them.
Svc = NamedDependency[Services]

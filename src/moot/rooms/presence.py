"""Presence: a participant whose last room socket closed and did not come back within a grace
period has left — a crashed tab or a lost network frees its seat, a reload keeps it.

Redis holds, across instances, how many room sockets each participant has open
(`presence:{room}:{participant}`) and when the ones with none left are due to leave (the sorted
set `presence:due`). Every instance sweeps what is due; `ZREM` decides which one acts on an
entry. Participants who never opened a socket (API clients) are never touched.

Neither key outlives its use: a count expires a day after its last socket opened, and the due
set empties as it is swept (Redis drops an empty set) and expires a day after its last entry
if no instance is left to sweep it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import cast

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

DUE_KEY = "presence:due"

# (room, participant, when their last socket closed): leave them, unless their seat is newer.
OnGone = Callable[[uuid.UUID, uuid.UUID, datetime], Awaitable[None]]
_SWEEP_EVERY = 1.0  # seconds
_COUNT_TTL = 24 * 3600  # a count left behind by a crashed instance expires on its own
_DUE_TTL = 24 * 3600  # past the last departure's deadline: nobody swept them for a day


def _count_key(room_id: uuid.UUID, participant_id: uuid.UUID) -> str:
    return f"presence:{room_id}:{participant_id}"


def _member(room_id: uuid.UUID, participant_id: uuid.UUID) -> str:
    return f"{room_id}:{participant_id}"


class Presence:
    def __init__(self, redis: Redis, grace_seconds: int) -> None:
        self._redis = redis
        self.grace_seconds = grace_seconds

    @property
    def enabled(self) -> bool:
        return self.grace_seconds > 0

    async def arrived(self, room_id: uuid.UUID, participant_id: uuid.UUID) -> None:
        """A room socket opened: count it, and cancel a pending departure (a reconnect)."""
        if not self.enabled:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(_count_key(room_id, participant_id))
            pipe.expire(_count_key(room_id, participant_id), _COUNT_TTL)
            pipe.zrem(DUE_KEY, _member(room_id, participant_id))
            await pipe.execute()

    async def departed(self, room_id: uuid.UUID, participant_id: uuid.UUID) -> None:
        """A room socket closed: if it was their last, they leave unless back in time."""
        if not self.enabled:
            return
        left: int = await self._redis.decr(_count_key(room_id, participant_id))
        if left <= 0:
            deadline_ms = int((time.time() + self.grace_seconds) * 1000)
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zadd(DUE_KEY, {_member(room_id, participant_id): deadline_ms})
                pipe.expire(DUE_KEY, self.grace_seconds + _DUE_TTL)
                await pipe.execute()

    async def sweep(self, on_gone: OnGone) -> int:
        """Let everyone due leave; the number of departures this instance handled."""
        now_ms = int(time.time() * 1000)
        due = cast(
            list[tuple[bytes, float]],
            await self._redis.zrangebyscore(
                DUE_KEY, "-inf", now_ms, start=0, num=100, withscores=True
            ),
        )
        handled = 0
        for raw, deadline_ms in due:
            member = raw.decode()
            if not await self._redis.zrem(DUE_KEY, member):
                continue  # another instance took it
            room_text, _, participant_text = member.partition(":")
            room_id, participant_id = uuid.UUID(room_text), uuid.UUID(participant_text)
            count = await self._redis.get(_count_key(room_id, participant_id))
            if count is not None and int(count) > 0:
                continue  # back on another socket after all
            await self._redis.delete(_count_key(room_id, participant_id))
            departed_at = datetime.fromtimestamp(deadline_ms / 1000 - self.grace_seconds, UTC)
            await on_gone(room_id, participant_id, departed_at)
            handled += 1
        return handled

    async def sweep_forever(self, on_gone: OnGone) -> None:
        if not self.enabled:
            return
        while True:
            await asyncio.sleep(_SWEEP_EVERY)
            try:
                await self.sweep(on_gone)
            except (RedisError, OSError) as exc:
                log.warning("presence_sweep_failed", error=type(exc).__name__)
            except Exception:
                log.exception("presence_sweep_crashed")

"""Presence: a participant whose last room socket closed and did not come back within a grace
period has left — a crashed tab or a lost network frees its seat, a reload keeps it.

Redis holds, across instances, how many room sockets each participant has open
(`presence:{room}:{participant}`), when the ones with none left are due to leave (the sorted
set `presence:due`) and when their last socket closed (the hash `presence:departed`). Every
instance sweeps what is due; `ZREM` decides which one acts on an entry. Participants who never
opened a socket (API clients) are never touched.

A deadline counts from when moot was there to keep it: every completed sweep notes its time
(`presence:swept`), and a sweep that finds no sweep for a while before it (every instance was
stopped, or none could reach Redis or PostgreSQL) gives the deadlines that passed meanwhile a
fresh grace period from now, so a restart or an outage drops nobody whose client is on its
way back.

No key outlives its use: a count expires a day after its last socket opened, and the due set,
the departure times and the sweep note expire a day after their last write if no instance is
left to sweep them.
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

from moot.errors import is_store_outage

log = structlog.get_logger(__name__)

DUE_KEY = "presence:due"
DEPARTED_KEY = "presence:departed"
SWEPT_KEY = "presence:swept"

# (room, participant, when their last socket closed): leave them, unless their seat is newer.
OnGone = Callable[[uuid.UUID, uuid.UUID, datetime], Awaitable[None]]
_SWEEP_EVERY = 1.0  # seconds
# No sweep for this long: nobody was sweeping (every instance stopped, or the stores were out).
_UNSWEPT_AFTER = 3 * _SWEEP_EVERY
_COUNT_TTL = 24 * 3600  # a count left behind by a crashed instance expires on its own
_DUE_TTL = 24 * 3600  # past the last departure's deadline: nobody swept them for a day

# KEYS: count, due, departed. ARGV: member, count ttl. 1 if they were due to leave (a return).
_ARRIVED = """
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[1])
return redis.call('ZREM', KEYS[2], ARGV[1])
"""

# KEYS: count, due, departed. ARGV: member, now ms, deadline ms, keys' ttl.
# 1 if that was their last socket (they are due to leave at the deadline).
_DEPARTED = """
if redis.call('DECR', KEYS[1]) > 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[4])
return 1
"""

# KEYS: due, swept. ARGV: now ms, grace ms, unswept ms. Deadlines that passed since the last
# sweep, if that was too long ago, count again from now; how many did.
_RESUME = """
local now = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[2]) or '')
if last and now - last <= tonumber(ARGV[3]) then return 0 end
local missed = redis.call('ZRANGEBYSCORE', KEYS[1], last and ('(' .. last) or '-inf', now)
for _, member in ipairs(missed) do
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), member)
end
return #missed
"""


def _count_key(room_id: uuid.UUID, participant_id: uuid.UUID) -> str:
    return f"presence:{room_id}:{participant_id}"


def _member(room_id: uuid.UUID, participant_id: uuid.UUID) -> str:
    return f"{room_id}:{participant_id}"


def _now_ms() -> int:
    return int(time.time() * 1000)


class Presence:
    """`grace_seconds`: how long a participant without a socket keeps their seat;
    `closed_tab_seconds`: the same for one whose last socket said its tab was closing (a
    reload comes back within it; a closed tab does not, and should not keep others waiting)."""

    def __init__(self, redis: Redis, grace_seconds: int, closed_tab_seconds: int = 0) -> None:
        self._redis = redis
        self.grace_seconds = grace_seconds
        self.closed_tab_seconds = min(closed_tab_seconds or grace_seconds, grace_seconds)
        self._arrived = redis.register_script(_ARRIVED)
        self._departed = redis.register_script(_DEPARTED)
        self._resume = redis.register_script(_RESUME)

    @property
    def enabled(self) -> bool:
        return self.grace_seconds > 0

    async def arrived(self, room_id: uuid.UUID, participant_id: uuid.UUID) -> bool:
        """A room socket opened: count it, and cancel a pending departure. True if one was
        pending: they are back (a reload, a reconnect)."""
        if not self.enabled:
            return False
        back = await self._arrived(
            keys=[_count_key(room_id, participant_id), DUE_KEY, DEPARTED_KEY],
            args=[_member(room_id, participant_id), _COUNT_TTL],
        )
        return bool(back)

    async def connected(self, room_id: uuid.UUID, participant_id: uuid.UUID) -> bool:
        """Whether they have a room socket open, or are within the wait after their last one
        closed (presence, not something else, decides when they have gone)."""
        if not self.enabled:
            return False
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(_count_key(room_id, participant_id))
            pipe.zscore(DUE_KEY, _member(room_id, participant_id))
            count, due = await pipe.execute()
        return (count is not None and int(count) > 0) or due is not None

    async def departed(
        self, room_id: uuid.UUID, participant_id: uuid.UUID, *, closing_tab: bool = False
    ) -> bool:
        """A room socket closed. True if it was their last: they leave unless back in time
        (`closing_tab`: the socket said its tab was going away, so the shorter wait)."""
        if not self.enabled:
            return False
        now = _now_ms()
        wait = self.closed_tab_seconds if closing_tab else self.grace_seconds
        last = await self._departed(
            keys=[_count_key(room_id, participant_id), DUE_KEY, DEPARTED_KEY],
            args=[
                _member(room_id, participant_id),
                now,
                now + wait * 1000,
                self.grace_seconds + _DUE_TTL,
            ],
        )
        return bool(last)

    async def sweep(self, on_gone: OnGone) -> int:
        """Let everyone due leave; the number of departures this instance handled."""
        now_ms = _now_ms()
        resumed = await self._resume(
            keys=[DUE_KEY, SWEPT_KEY],
            args=[now_ms, self.grace_seconds * 1000, int(_UNSWEPT_AFTER * 1000)],
        )
        if resumed:
            log.info("presence_deadlines_renewed", count=resumed)
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
            raw_departed = await self._redis.hget(DEPARTED_KEY, member)
            grace_ms = self.grace_seconds * 1000
            departed_ms = int(raw_departed) if raw_departed else int(deadline_ms) - grace_ms
            departed_at = datetime.fromtimestamp(departed_ms / 1000, UTC)
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(_count_key(room_id, participant_id))
                pipe.hdel(DEPARTED_KEY, member)
                await pipe.execute()
            try:
                await on_gone(room_id, participant_id, departed_at)
            except Exception:
                # PostgreSQL is away, say: they are still due, and this sweep did not complete,
                # so the first one after the outage gives them a fresh grace period.
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.zadd(DUE_KEY, {member: deadline_ms})
                    pipe.hset(DEPARTED_KEY, member, departed_ms)
                    await pipe.execute()
                raise
            handled += 1
        await self._redis.set(SWEPT_KEY, now_ms, px=_DUE_TTL * 1000)
        return handled

    async def sweep_forever(self, on_gone: OnGone) -> None:
        if not self.enabled:
            return
        while True:
            await asyncio.sleep(_SWEEP_EVERY)
            try:
                await self.sweep(on_gone)
            except Exception as exc:
                if not is_store_outage(exc):
                    log.exception("presence_sweep_crashed")
                else:
                    log.warning("presence_sweep_failed", error=type(exc).__name__)

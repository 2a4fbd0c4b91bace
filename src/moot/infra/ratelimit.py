"""Rate limits on Redis via `limits`, shared by every API instance."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import Redis

from moot.errors import MootError
from moot.infra.metrics import Metrics


class RateLimiter:
    """Named limits ("room_create", ...) each parsed once from settings."""

    def __init__(
        self, redis: Redis, limits: dict[str, str], metrics: Metrics, enabled: bool = True
    ) -> None:
        storage = RedisStorage(
            "async+redis://localhost:6379",  # unused: the shared pool below is what connects
            implementation="redispy",
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]
            key_prefix="moot:rl",
        )
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._limits: dict[str, list[RateLimitItem]] = {
            name: parse_many(spec) for name, spec in limits.items()
        }
        self._metrics = metrics
        self.enabled = enabled

    async def check(self, name: str, key: str) -> None:
        """Count one hit against `name` for `key`; raise 429 `rate_limited` when over."""
        if not self.enabled:
            return
        for item in self._limits[name]:
            if not await self._limiter.hit(item, name, key):
                raise await self._refusal(item, name, key)

    async def allows(self, name: str, key: str) -> bool:
        """Whether one more hit would pass; counts nothing. With `charge` and `refusal`, for
        budgets that only some outcomes spend (a join spends one only if it takes a seat)."""
        if not self.enabled:
            return True
        for item in self._limits[name]:
            if not await self._limiter.test(item, name, key):
                return False
        return True

    async def charge(self, name: str, key: str) -> None:
        """Count one hit, over or not: what it pays for has already happened."""
        if not self.enabled:
            return
        for item in self._limits[name]:
            await self._limiter.hit(item, name, key)

    async def refusal(self, name: str, key: str) -> MootError:
        """The 429 for a budget `allows` said is spent."""
        for item in self._limits[name]:
            if not await self._limiter.test(item, name, key):
                return await self._refusal(item, name, key)
        return await self._refusal(self._limits[name][0], name, key)  # freed up meanwhile

    async def _refusal(self, item: RateLimitItem, name: str, key: str) -> MootError:
        stats = await self._limiter.get_window_stats(item, name, key)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        self._metrics.rate_limited.labels(name).inc()
        error = MootError(
            "rate_limited",
            f"Too many requests ({item}); try again in {retry_after} s.",
            limit=name,
            retry_after=retry_after,
        )
        error.headers["Retry-After"] = str(retry_after)
        return error

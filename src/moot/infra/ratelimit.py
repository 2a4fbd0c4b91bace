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
                raise error

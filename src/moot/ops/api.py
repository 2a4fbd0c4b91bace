"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import msgspec
from litestar import MediaType, Response, get
from litestar.openapi import ResponseSpec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from moot.services import Svc

CHECK_TIMEOUT = 2.0


class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    status: str
    postgres: str
    redis: str


@get("/health", tags=["ops"], summary="Alive", include_in_schema=True)
async def health() -> Health:
    return Health(status="ok")


async def _check_postgres(pool: asyncpg.Pool) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await pool.fetchval("SELECT 1")
        return "ok"
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return f"unavailable: {type(exc).__name__}"


async def _check_redis(redis: Redis) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await redis.ping()
        return "ok"
    except (TimeoutError, OSError, RedisError) as exc:
        return f"unavailable: {type(exc).__name__}"


@get(
    "/ready",
    tags=["ops"],
    summary="PostgreSQL and Redis reachable",
    responses={
        503: ResponseSpec(Readiness, description="A store is unreachable", generate_examples=False)
    },
)
async def ready(services: Svc) -> Response[Readiness]:
    postgres_state, redis_state = await asyncio.gather(
        _check_postgres(services.pool), _check_redis(services.redis)
    )
    ok = postgres_state == "ok" and redis_state == "ok"
    return Response(
        Readiness(status="ok" if ok else "unavailable", postgres=postgres_state, redis=redis_state),
        status_code=200 if ok else 503,
    )


@get("/metrics", tags=["ops"], summary="Prometheus metrics", media_type=MediaType.TEXT)
async def metrics(services: Svc) -> Response[Any]:
    return Response(
        await services.metrics.render(),
        media_type="text/plain; version=0.0.4",  # Litestar appends the charset
    )

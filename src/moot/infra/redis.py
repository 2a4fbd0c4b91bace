"""The shared redis-py asyncio client (works with Redis and Valkey)."""

from __future__ import annotations

from redis.asyncio import Redis


def create_redis(url: str) -> Redis:
    # decode_responses stays off: values are msgspec JSON bytes, decoded where they are read.
    return Redis.from_url(url, health_check_interval=30)

"""limit: the chat fan-out with raw Redis pub/sub clients and no moot in between.

Same shapes and rates as chat-fanout, against the same Valkey moot uses: R channels, S
subscriber connections per channel (one connection each, as each browser has one socket), one
publisher per channel. The report divides moot's delivery rate by this one: what share of
"Redis alone, driven from Python" moot keeps.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

from redis.asyncio import Redis

from bench.chat_fanout import FanoutResult, median_run, percentile


async def run_raw(
    redis_url: str, rooms: int, subscribers: int, rate_per_room: float, seconds: float
) -> FanoutResult:
    latencies: list[float] = []
    received = 0
    clients: list[Redis] = []
    pubsubs = []
    for room in range(rooms):
        for _ in range(subscribers):
            client = Redis.from_url(redis_url)
            pubsub = client.pubsub()
            await pubsub.subscribe(f"bench:room:{room}")
            clients.append(client)
            pubsubs.append(pubsub)

    async def listen(pubsub: Any) -> None:
        nonlocal received
        async for message in pubsub.listen():
            if message["type"] != "message":
                continue
            sent_ns = json.loads(message["data"])["t"]
            latencies.append((time.time_ns() - sent_ns) / 1e6)
            received += 1

    listeners = [asyncio.create_task(listen(pubsub)) for pubsub in pubsubs]
    publisher = Redis.from_url(redis_url)
    sent = 0

    async def publish(room: int) -> None:
        nonlocal sent
        interval = 1.0 / rate_per_room
        start = time.perf_counter()
        n = 0
        while time.perf_counter() - start < seconds:
            payload = json.dumps(
                {"type": "message.created", "t": time.time_ns(), "content": "b" * 120}
            )
            await publisher.publish(f"bench:room:{room}", payload)
            sent += 1
            n += 1
            delay = start + n * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)

    started = time.perf_counter()
    await asyncio.gather(*(publish(room) for room in range(rooms)))
    expected = sent * subscribers
    deadline = time.perf_counter() + 10
    while received < expected and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    for task in listeners:
        task.cancel()
    for pubsub in pubsubs:
        await pubsub.aclose()
    for client in [*clients, publisher]:
        await client.aclose()
    return FanoutResult(
        rooms=rooms,
        subscribers=subscribers,
        sockets=rooms * subscribers,
        messages_sent=sent,
        deliveries_expected=expected,
        deliveries=received,
        lost=expected - received,
        seconds=round(elapsed, 2),
        deliveries_per_second=round(received / elapsed, 1),
        latency_p50_ms=round(statistics.median(latencies), 2) if latencies else float("nan"),
        latency_p99_ms=round(percentile(latencies, 0.99), 2),
    )


async def redis_limit(
    redis_url: str, sizes: list[tuple[int, int, float]], seconds: float, repeat: int
) -> list[dict[str, Any]]:
    results = []
    for rooms, subscribers, rate in sizes:
        runs = [await run_raw(redis_url, rooms, subscribers, rate, seconds) for _ in range(repeat)]
        result = median_run(runs)
        result["offered_per_second"] = round(rooms * subscribers * rate)
        results.append(result)
    return results

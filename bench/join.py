"""join: many participants join rooms and fetch media tokens concurrently.

Each simulated guest does what a browser does on the pre-join page's "Join" click: join the
room (`POST /api/v1/rooms/{code}/join`) and ask how to connect media (`POST …/media/token`).
Identities are minted beforehand (a page load, not part of the click). `concurrency` guests
are in flight at once, spread over `rooms` rooms; latency is per guest (join + token).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp

from bench.server import MootProcess


@dataclass
class JoinResult:
    guests: int
    rooms: int
    concurrency: int
    seconds: float
    joins_per_second: float
    latency_p50_ms: float
    latency_p99_ms: float
    errors: int


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@dataclass
class Guests:
    """Rooms and identities made beforehand: creating a room and loading the page are not
    part of the click being measured."""

    codes: list[str]
    tokens: list[str]


async def prepare(server: MootProcess, guests: int, rooms: int) -> Guests:
    async with aiohttp.ClientSession(server.url) as http:

        async def identity() -> str:
            async with http.post("/api/v1/identity") as response:
                token: str = (await response.json())["token"]
                return token

        codes = []
        for _ in range(rooms):
            host = await identity()
            async with http.post(
                "/api/v1/rooms", json={"max_participants": 1000},
                headers={"X-Participant-ID": host},
            ) as response:
                codes.append((await response.json())["code"])
        tokens = [await identity() for _ in range(guests)]
    return Guests(codes, tokens)


async def drive(server: MootProcess, guests: Guests, concurrency: int) -> JoinResult:
    """Every guest joins (guest n goes to room n mod rooms) and asks for media access."""
    codes, rooms = guests.codes, len(guests.codes)
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for n, token in enumerate(guests.tokens):
        queue.put_nowait((n, token))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(server.url, connector=connector) as http:

        async def guest_loop() -> None:
            nonlocal errors
            while not queue.empty():
                n, token = queue.get_nowait()
                code = codes[n % rooms]
                headers = {"X-Participant-ID": token}
                started = time.perf_counter()
                async with http.post(
                    f"/api/v1/rooms/{code}/join", json={"display_name": f"g{n}"}, headers=headers
                ) as joined:
                    await joined.read()
                async with http.post(f"/api/v1/rooms/{code}/media/token",
                                     headers=headers) as media:
                    await media.read()
                latencies.append((time.perf_counter() - started) * 1000)
                if joined.status != 200 or media.status != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(guest_loop() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    count = len(guests.tokens)
    return JoinResult(
        guests=count, rooms=rooms, concurrency=concurrency, seconds=round(seconds, 3),
        joins_per_second=round(count / seconds, 1),
        latency_p50_ms=round(statistics.median(latencies), 2),
        latency_p99_ms=round(_percentile(latencies, 0.99), 2), errors=errors,
    )


async def run_join(server: MootProcess, guests: int, rooms: int, concurrency: int) -> JoinResult:
    return await drive(server, await prepare(server, guests, rooms), concurrency)


async def join(server: MootProcess, smoke: bool, repeat: int) -> list[dict[str, Any]]:
    """Median runs at two concurrencies: 16 guests in flight (the knee on this machine) and
    32 (past it: more waiting, less throughput)."""
    shapes = [(40, 4, 8)] if smoke else [(3000, 100, 16), (3000, 100, 32)]
    results = []
    for guests, rooms, concurrency in shapes:
        runs = [await run_join(server, guests, rooms, concurrency) for _ in range(repeat)]
        ordered = sorted(runs, key=lambda run: run.joins_per_second)
        chosen = asdict(ordered[len(ordered) // 2])
        chosen["runs"] = repeat
        chosen["all_joins_per_second"] = [run.joins_per_second for run in runs]
        chosen["all_latency_p99_ms"] = [run.latency_p99_ms for run in runs]
        chosen["errors"] = sum(run.errors for run in runs)
        results.append(chosen)
    return results

"""join: many participants join rooms and fetch media tokens concurrently.

Each simulated guest does what a browser does on the pre-join page's "Join" click: join the
room (`POST /api/v1/rooms/{code}/join`), whose response carries the media access (a LiveKit
token, or mesh mode). With `separate_token`, the guest then also asks for it on its own
(`POST …/media/token`), as a client does when its token expires or it reconnects media.
Identities are minted beforehand (a page load, not part of the click). `concurrency` guests
are in flight at once, spread over `rooms` rooms; latency is per guest.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp

from bench.cpu import cpu_seconds
from bench.http import Connection
from bench.server import MootProcess


@dataclass
class JoinResult:
    guests: int
    rooms: int
    concurrency: int
    separate_token: bool
    seconds: float
    joins_per_second: float
    latency_p50_ms: float
    latency_p99_ms: float
    errors: int
    cpu_us_per_join: dict[str, int]  # moot, postgres, valkey, driver


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
                "/api/v1/rooms",
                json={"max_participants": 1000},
                headers={"X-Participant-ID": host},
            ) as response:
                codes.append((await response.json())["code"])
        tokens = [await identity() for _ in range(guests)]
    return Guests(codes, tokens)


async def drive(
    server: MootProcess, guests: Guests, concurrency: int, separate_token: bool = False
) -> JoinResult:
    """Every guest joins (guest n goes to room n mod rooms) and gets media access, over
    `concurrency` keep-alive connections."""
    codes, rooms = guests.codes, len(guests.codes)
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for n, token in enumerate(guests.tokens):
        queue.put_nowait((n, token))
    connections = [await Connection.open("127.0.0.1", server.port) for _ in range(concurrency)]

    async def guest_loop(http: Connection) -> None:
        nonlocal errors
        while not queue.empty():
            n, token = queue.get_nowait()
            code = codes[n % rooms]
            headers = {"X-Participant-ID": token}
            started = time.perf_counter()
            status, session = await http.request(
                "POST", f"/api/v1/rooms/{code}/join", b'{"display_name":"g%d"}' % n, headers
            )
            ok = status == 200 and b'"media":{"mode"' in session
            if separate_token:
                status, _ = await http.request(
                    "POST", f"/api/v1/rooms/{code}/media/token", headers=headers
                )
                ok = ok and status == 200
            latencies.append((time.perf_counter() - started) * 1000)
            errors += not ok

    cpu_before = cpu_seconds(server.pid, server.data_dir)
    started = time.perf_counter()
    await asyncio.gather(*(guest_loop(http) for http in connections))
    seconds = time.perf_counter() - started
    cpu_after = cpu_seconds(server.pid, server.data_dir)
    for http in connections:
        await http.close()
    count = len(guests.tokens)
    return JoinResult(
        guests=count,
        rooms=rooms,
        concurrency=concurrency,
        separate_token=separate_token,
        seconds=round(seconds, 3),
        joins_per_second=round(count / seconds, 1),
        latency_p50_ms=round(statistics.median(latencies), 2),
        latency_p99_ms=round(_percentile(latencies, 0.99), 2),
        errors=errors,
        cpu_us_per_join={
            kind: round((cpu_after[kind] - cpu_before[kind]) / count * 1e6) for kind in cpu_after
        },
    )


async def run_join(
    server: MootProcess, guests: int, rooms: int, concurrency: int, separate_token: bool = False
) -> JoinResult:
    return await drive(server, await prepare(server, guests, rooms), concurrency, separate_token)


async def join(server: MootProcess, smoke: bool, repeat: int) -> list[dict[str, Any]]:
    """Median runs at two concurrencies, 16 guests in flight (the knee on this machine) and 32
    (past it: more waiting, less throughput), then at 16 with the token asked for separately."""
    shapes = (
        [(40, 4, 8, False), (40, 4, 8, True)]
        if smoke
        else [(2000, 100, 16, False), (2000, 100, 32, False), (2000, 100, 16, True)]
    )
    # The first joins on a fresh server are slower (cold caches, first-use paths everywhere).
    await run_join(server, 40 if smoke else 300, 10, 8)
    results = []
    for guests, rooms, concurrency, separate_token in shapes:
        runs = [
            await run_join(server, guests, rooms, concurrency, separate_token)
            for _ in range(repeat)
        ]
        ordered = sorted(runs, key=lambda run: run.joins_per_second)
        chosen = asdict(ordered[len(ordered) // 2])
        chosen["runs"] = repeat
        chosen["all_joins_per_second"] = [run.joins_per_second for run in runs]
        chosen["all_latency_p99_ms"] = [run.latency_p99_ms for run in runs]
        chosen["errors"] = sum(run.errors for run in runs)
        results.append(chosen)
    return results

"""capacity: idle room WebSockets held by one API process, and the memory each costs.

Guests join rooms of 100 over HTTP, then each opens its room socket and waits (`ready`
received, nothing more). The server's resident memory (VmRSS from /proc) is read before the
sockets open and once they are all idle; the difference over the count is the cost of one.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import aiohttp
from websockets.asyncio.client import ClientConnection, connect

from bench.server import MootProcess


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def capacity(server: MootProcess, sockets: int, per_room: int = 100) -> dict[str, Any]:
    assert server.process is not None
    connector = aiohttp.TCPConnector(limit=32)
    plans: list[tuple[str, str]] = []
    async with aiohttp.ClientSession(server.url, connector=connector) as http:

        async def identity() -> str:
            async with http.post("/api/v1/identity") as response:
                token: str = (await response.json())["token"]
                return token

        async def join(code: str, n: int) -> None:
            token = await identity()
            async with http.post(
                f"/api/v1/rooms/{code}/join",
                json={"display_name": f"idle{n}"},
                headers={"X-Participant-ID": token},
            ) as response:
                assert response.status == 200, await response.text()
            plans.append((code, token))

        for first in range(0, sockets, per_room):
            host = await identity()
            async with http.post(
                "/api/v1/rooms", json={"max_participants": 1000}, headers={"X-Participant-ID": host}
            ) as response:
                code = (await response.json())["code"]
            plans.append((code, host))
            count = min(per_room, sockets - first) - 1
            await asyncio.gather(*(join(code, first + n) for n in range(count)))

    await asyncio.sleep(1)
    before = rss_kib(server.process.pid)
    opened: list[ClientConnection] = []
    started = time.perf_counter()

    async def open_one(code: str, token: str) -> None:
        ws = await connect(f"{server.ws_url}/ws/chat/{code}?token={token}", open_timeout=60)
        async with asyncio.timeout(60):
            while '"ready"' not in str(await ws.recv()):
                pass
        opened.append(ws)

    semaphore = asyncio.Semaphore(100)

    async def bounded(code: str, token: str) -> None:
        async with semaphore:
            await open_one(code, token)

    await asyncio.gather(*(bounded(code, token) for code, token in plans))
    open_seconds = time.perf_counter() - started
    await asyncio.sleep(2)  # idle
    gc.collect()
    after = rss_kib(server.process.pid)
    for ws in opened:
        await ws.close()
    return {
        "sockets": len(opened),
        "open_seconds": round(open_seconds, 2),
        "rss_before_mib": round(before / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
        "kib_per_socket": round((after - before) / len(opened), 1),
    }

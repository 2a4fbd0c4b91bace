"""A meeting outlives its server: every `moot serve` stopped for longer than the presence grace
period and started again drops nobody whose client comes back, and the grace period of those
who do not counts from when the server is back (real processes on the test stores)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect

from moot.realtime.close_codes import CloseCode
from moot.rooms.presence import DUE_KEY
from tests import conftest
from tests.conftest import Guest
from tests.processes import free_port, start_moot, wait_ready
from tests.test_chat_ws import closed_with, frames_until, next_of

GRACE = 3


class Serve:
    """One `moot serve` that the test stops and starts again on the same port."""

    def __init__(self, stores: conftest.TestStores, tmp: Path) -> None:
        self.stores, self.tmp = stores, tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        with (self.tmp / "serve.log").open("ab") as log:
            self.process = start_moot(
                "serve",
                self.port,
                self.tmp / "data",
                self.stores,
                output=log,
                cwd=self.tmp,
                MOOT_RATE_LIMIT_ENABLED="false",
                MOOT_PRESENCE_GRACE_SECONDS=str(GRACE),
            )
        await wait_ready(self.url)

    async def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(self.process.wait, 30)
        self.process = None


@pytest.fixture
def serve(stores: conftest.TestStores, tmp_path: Path) -> Iterator[Serve]:
    server = Serve(stores, tmp_path)
    yield server
    if server.process is not None:
        server.process.terminate()
        server.process.wait(timeout=30)


async def guest(http: httpx.AsyncClient) -> Guest:
    identity = (await http.post("/api/v1/identity")).json()
    return Guest(http, identity["token"], identity["participant_id"])


@asynccontextmanager
async def room_socket(
    serve: Serve, room: str, who: Guest, since: str | None = None
) -> AsyncIterator[ClientConnection]:
    query = f"token={who.token}" + (f"&since={since}" if since else "")
    async with connect(f"ws://127.0.0.1:{serve.port}/ws/chat/{room}?{query}") as ws:
        yield ws


async def seated(host: Guest, room: str) -> set[str]:
    response = await host.get(f"/api/v1/rooms/{room}/participants")
    assert response.status_code == 200, response.text
    return {p["participant_id"] for p in response.json()["items"]}


async def renewed(redis: Redis, member: str, past: float) -> float:
    """The member's deadline once a sweep has moved it past `past` (ms)."""
    async with asyncio.timeout(10):
        while True:
            score = await redis.zscore(DUE_KEY, member)
            if score is not None and score > past:
                return float(score)
            await asyncio.sleep(0.05)


async def test_seats_survive_a_server_stop_longer_than_the_grace_period(
    serve: Serve, redis: Redis
) -> None:
    await serve.start()
    async with httpx.AsyncClient(base_url=serve.url, timeout=10) as http:
        host, other = await guest(http), await guest(http)
        created = (await host.post("/api/v1/rooms", json={"display_name": "Ada"})).json()
        room, room_id = created["code"], created["id"]
        assert (await other.join(room, "Grace")).status_code == 200
        async with (
            room_socket(serve, room, host) as host_ws,
            room_socket(serve, room, other) as other_ws,
        ):
            cursor = (await next_of(host_ws, "ready"))["cursor"]
            await next_of(other_ws, "ready")
            await serve.stop()
            # Service restart, which clients answer by reconnecting (not an ending).
            assert (await closed_with(host_ws))[0] == CloseCode.RESTART
            assert (await closed_with(other_ws))[0] == CloseCode.RESTART
        members = {who: f"{room_id}:{who.participant_id}" for who in (host, other)}
        deadlines = {who: await redis.zscore(DUE_KEY, m) for who, m in members.items()}
        assert all(deadlines.values()), deadlines

        await asyncio.sleep(GRACE + 2)  # the outage, on purpose longer than the grace period
        assert time.time() * 1000 > max(d for d in deadlines.values() if d)

        await serve.start()
        back_ms = time.time() * 1000
        # The first sweep gives both a fresh grace period instead of letting them go.
        for who, member in members.items():
            deadline = await renewed(redis, member, deadlines[who] or 0)
            assert deadline >= back_ms + GRACE * 1000 - 1000
        assert await seated(host, room) == {host.participant_id, other.participant_id}

        # The host's client comes back from its cursor: nothing about itself leaving. The
        # other one never does, and leaves a grace period after the server came back.
        async with room_socket(serve, room, host, since=cursor) as host_ws:
            replayed = await frames_until(host_ws, "ready")
            assert not [f for f in replayed if f["type"] == "participant.left"], replayed
            assert replayed[-1]["you"]["role"] == "host"
            left = await next_of(host_ws, "participant.left", timeout=GRACE + 5)
            assert left["participant_id"] == other.participant_id
            assert time.time() * 1000 >= back_ms + GRACE * 1000 - 1000
            await host_ws.send(json.dumps({"type": "ping"}))
            assert (await next_of(host_ws, "pong"))["type"] == "pong"
        assert await seated(host, room) == {host.participant_id}

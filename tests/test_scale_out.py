"""moot scaled out: two `moot serve` processes (API only) and one `moot worker` process on
different ports over one PostgreSQL and one Redis, as docker-compose.yml and the Nomad jobs run
it. Nothing may assume a single instance: a meeting runs across all three, rate limits and the
cleanup lock hold across processes, and an instance that is stopped hands its sockets over.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect

from moot.infra.postgres import CLEANUP_LOCK
from tests.conftest import Guest
from tests.gladia_standin import GladiaStandIn, GladiaState
from tests.processes import free_port, moot_env, start_moot, wait_ready
from tests.test_chat_ws import closed_with, frames_until, next_of
from tests.test_transcription import audio, eventually, stream

if TYPE_CHECKING:
    from tests.conftest import TestStores

ROOM_CREATE_LIMIT = 3  # per client IP and minute, shared by every instance through Redis


@dataclass
class Instance:
    """One moot process on loopback."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def spawn(command: str, name: str, directory: Path, stores: TestStores, **extra: str) -> Instance:
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / f"{name}.log"
    with log.open("wb") as out:
        process = start_moot(
            command, port, directory / name, stores, output=out, cwd=directory, **extra
        )
    return Instance(name, port, process, log)


def stop(instance: Instance) -> None:
    if instance.process.poll() is None:
        instance.process.send_signal(signal.SIGTERM)
        try:
            instance.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            instance.process.kill()
            instance.process.wait()


@dataclass
class Cluster:
    a: Instance
    b: Instance
    worker: Instance
    gladia: GladiaState
    directory: Path
    api_env: dict[str, str]


@pytest.fixture(scope="module")
async def cluster(
    stores: TestStores, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    directory = tmp_path_factory.mktemp("scale-out")
    async with GladiaStandIn() as gladia:
        gladia_env = {
            "MOOT_GLADIA_BASE_URL": gladia.base_url,
            "MOOT_GLADIA_API_KEY": gladia.api_key,
        }
        worker = spawn(
            "worker",
            "worker",
            directory,
            stores,
            MOOT_TRANSCRIPT_FLUSH_INTERVAL_MS="50",
            **gladia_env,
        )
        api_env = {
            "MOOT_WORKER_EMBEDDED": "false",
            "MOOT_WORKER_PUBLIC_URL": f"{worker.ws_url}/ws/transcribe",
            "MOOT_RATE_LIMIT_ROOM_CREATE": f"{ROOM_CREATE_LIMIT}/minute",
            **gladia_env,
        }
        a = spawn("serve", "api-a", directory, stores, **api_env)
        b = spawn("serve", "api-b", directory, stores, **api_env)
        instances = (a, b, worker)
        try:
            for instance in instances:
                try:
                    await wait_ready(instance.url)
                except AssertionError:
                    raise AssertionError(instance.output()) from None
            yield Cluster(a, b, worker, gladia, directory, api_env)
        finally:
            for instance in instances:
                await asyncio.to_thread(stop, instance)


@pytest.fixture
async def fresh(db: asyncpg.Connection, redis: Redis) -> asyncpg.Connection:
    """Empty tables and an empty Redis for each test; the processes keep running."""
    return db


async def guest_of(http: httpx.AsyncClient) -> Guest:
    body = (await http.post("/api/v1/identity")).json()
    return Guest(http, body["token"], body["participant_id"])


def on(guest: Guest, http: httpx.AsyncClient) -> Guest:
    """The same person (same credential) talking to another instance."""
    return Guest(http, guest.token, guest.participant_id)


def room_socket(
    instance: Instance, room: dict[str, Any], guest: Guest, since: str | None = None
) -> Any:
    query = f"token={guest.token}" + (f"&since={since}" if since else "")
    return connect(f"{instance.ws_url}/ws/chat/{room['code']}?{query}")


async def say(ws: ClientConnection, text: str) -> None:
    await ws.send(json.dumps({"type": "message.send", "content": text}))


async def message(ws: ClientConnection, text: str) -> dict[str, Any]:
    while True:
        frame = await next_of(ws, "message.created")
        if frame["message"]["content"] == text:
            return frame


@pytest.fixture
async def clients(
    cluster: Cluster,
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """HTTP clients for instance A and instance B."""
    async with (
        httpx.AsyncClient(base_url=cluster.a.url, timeout=10) as a,
        httpx.AsyncClient(base_url=cluster.b.url, timeout=10) as b,
    ):
        yield a, b


async def test_a_meeting_runs_across_two_api_instances_and_a_worker(
    cluster: Cluster,
    fresh: asyncpg.Connection,
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    http_a, http_b = clients
    host = await guest_of(http_a)  # minted by A, accepted by B: one shared secret
    guest = await guest_of(http_b)
    room = await host.create_room(display_name="Ada")
    assert (await guest.join(room["code"], "Grace")).status_code == 200
    listing = (await host.get(f"/api/v1/rooms/{room['code']}/participants")).json()
    assert [p["display_name"] for p in listing["items"]] == ["Ada", "Grace"]
    assert (await on(host, http_b).get(f"/api/v1/rooms/{room['code']}")).status_code == 200

    async with (
        room_socket(cluster.a, room, host) as on_a,
        room_socket(cluster.b, room, guest) as on_b,
    ):
        await next_of(on_a, "ready")
        await next_of(on_b, "ready")

        # Chat both ways, each socket on its own process.
        await say(on_a, "hello from A")
        assert (await message(on_b, "hello from A"))["message"]["display_name"] == "Ada"
        await say(on_b, "hello from B")
        assert (await message(on_a, "hello from B"))["message"]["display_name"] == "Grace"

        # Mesh signalling both ways: an offer from A's client to B's, the answer back.
        sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        await on_a.send(
            json.dumps({"type": "signal.offer", "to": guest.participant_id, "sdp": sdp})
        )
        offer = await next_of(on_b, "signal.offer")
        assert (offer["from"], offer["sdp"]) == (host.participant_id, sdp)
        await on_b.send(
            json.dumps({"type": "signal.answer", "to": host.participant_id, "sdp": sdp + "a=x\r\n"})
        )
        answer = await next_of(on_a, "signal.answer")
        assert (answer["from"], answer["sdp"]) == (guest.participant_id, sdp + "a=x\r\n")
        await on_b.send(
            json.dumps({"type": "signal.ice", "to": host.participant_id, "candidate": None})
        )
        assert (await next_of(on_a, "signal.ice"))["from"] == guest.participant_id

        # Transcription: started through A, audio to the worker process, finals to both.
        cluster.gladia.texts = ["hello everyone", "bonjour tout le monde"]
        started = await host.post(f"/api/v1/rooms/{room['code']}/transcription/start")
        assert started.status_code == 200, started.text
        body = started.json()
        assert body["worker_url"] == f"{cluster.worker.ws_url}/ws/transcribe"
        async with connect(f"{body['worker_url']}?token={body['token']}") as mic:
            await stream(mic, audio(2))
            for ws in (on_a, on_b):
                finals = [await next_of(ws, "transcript.final", timeout=10) for _ in range(2)]
                assert [f["text"] for f in finals] == cluster.gladia.texts
                assert {f["participant_id"] for f in finals} == {host.participant_id}
            # The run's state is shared: B reports it, and the host stops it through B;
            # the worker sees the run gone and closes the audio socket.
            state = await on(guest, http_b).get(f"/api/v1/rooms/{room['code']}/transcription")
            assert state.json()["status"] == "active"
            stopped = await on(host, http_b).post(
                f"/api/v1/rooms/{room['code']}/transcription/stop"
            )
            assert stopped.json()["status"] == "idle"
            assert await closed_with(mic, timeout=10) == (4409, "transcription stopped")
        for ws in (on_a, on_b):
            assert (await next_of(ws, "transcription.updated"))["status"] == "idle"

    async def stored() -> bool:
        count = await fresh.fetchval(
            "SELECT count(*) FROM transcript_segments WHERE room_id = $1", uuid.UUID(room["id"])
        )
        return bool(count == 2)

    await eventually(stored, timeout=10)


async def test_a_rate_limit_spent_on_one_instance_holds_on_the_other(
    cluster: Cluster,
    fresh: asyncpg.Connection,
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    http_a, http_b = clients
    creator = await guest_of(http_a)
    # The instances trust 127.0.0.1 as a proxy, as they trust Caddy in the stack.
    client = {"X-Forwarded-For": "198.51.100.23"}
    created = [
        (await creator.post("/api/v1/rooms", json={}, headers=client)).status_code
        for _ in range(ROOM_CREATE_LIMIT)
    ]
    assert created == [201] * ROOM_CREATE_LIMIT
    refused = await on(creator, http_b).post("/api/v1/rooms", json={}, headers=client)
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    again = await creator.post("/api/v1/rooms", json={}, headers=client)
    assert again.status_code == 429
    # Someone else, through the same instance, is not affected.
    other = await on(creator, http_b).post(
        "/api/v1/rooms", json={}, headers={"X-Forwarded-For": "198.51.100.99"}
    )
    assert other.status_code == 201


async def test_the_images_health_check_passes_for_the_api_and_for_the_worker(
    cluster: Cluster,
) -> None:
    """The Dockerfile's HEALTHCHECK, run against real processes: one check for both roles."""
    from tests.test_deploy import image_healthcheck

    command = image_healthcheck()
    nothing = str(free_port())
    cases = [
        (str(cluster.a.port), nothing, 0),
        (nothing, str(cluster.worker.port), 0),
        (nothing, nothing, 1),
    ]
    for api_port, worker_port, expected in cases:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *command[1:],
            env={"MOOT_PORT": api_port, "MOOT_WORKER_PORT": worker_port},
        )
        assert await asyncio.wait_for(process.wait(), 30) == expected, (api_port, worker_port)


async def run_cleanup(cluster: Cluster, stores: TestStores) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "moot.cli",
        "cleanup",
        env=moot_env(stores),
        cwd=cluster.directory,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()
    report: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return report


async def test_one_cleanup_pass_runs_at_a_time_whoever_starts_it(
    cluster: Cluster,
    stores: TestStores,
    fresh: asyncpg.Connection,
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    http_a, http_b = clients
    host = await guest_of(http_a)
    room = await host.create_room()
    await fresh.execute(
        "UPDATE rooms SET expires_at = now() - interval '1 minute' WHERE id = $1",
        uuid.UUID(room["id"]),
    )
    # Another instance is in the middle of a pass: it holds the cleanup lock.
    holder = await asyncpg.connect(stores.database_url)
    try:
        async with holder.transaction():
            assert await holder.fetchval("SELECT pg_try_advisory_xact_lock($1)", CLEANUP_LOCK)
            skipped = await run_cleanup(cluster, stores)
            assert skipped["ran"] is False
            assert (await http_b.get(f"/api/v1/rooms/{room['code']}")).json()["status"] == "active"
    finally:
        await holder.close()
    done = await run_cleanup(cluster, stores)
    assert done["ran"] is True and done["ended_expired"] == 1
    assert done["ended_room_ids"] == [room["id"]]
    assert (await http_b.get(f"/api/v1/rooms/{room['code']}")).json()["status"] == "ended"


async def test_sigterm_hands_room_sockets_to_another_instance_and_exits_in_time(
    cluster: Cluster,
    stores: TestStores,
    fresh: asyncpg.Connection,
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    leaving = spawn("serve", "api-c", cluster.directory, stores, **cluster.api_env)
    try:
        await wait_ready(leaving.url)
        _, http_b = clients
        async with httpx.AsyncClient(base_url=leaving.url, timeout=10) as http_c:
            host = await guest_of(http_b)
            room = await host.create_room(display_name="Ada")
            guest = await guest_of(http_c)
            assert (await guest.join(room["code"], "Grace")).status_code == 200

            async with room_socket(cluster.b, room, host) as on_b:
                await next_of(on_b, "ready")
                async with room_socket(leaving, room, guest) as on_c:
                    await next_of(on_c, "ready")
                    await say(on_b, "before the restart")
                    cursor = (await message(on_c, "before the restart"))["cursor"]

                    signalled = time.monotonic()
                    leaving.process.send_signal(signal.SIGTERM)
                    # "Service restart": the client should reconnect, to another instance.
                    code, _ = await closed_with(on_c, timeout=5)
                    assert code == 1012
                    assert time.monotonic() - signalled < 5
                returned = await asyncio.to_thread(leaving.process.wait, 15)
                assert returned == 0, leaving.output()
                # Bounded: uvicorn's graceful timeout is 10 s; nothing held it up here.
                assert time.monotonic() - signalled < 12
                with pytest.raises(ConnectionRefusedError):
                    async with connect(f"{leaving.ws_url}/ws/chat/{room['code']}"):
                        pass

                # Meanwhile the meeting went on; the guest resumes on B from its cursor.
                await say(on_b, "while you were away")
                await message(on_b, "while you were away")
                async with room_socket(cluster.b, room, guest, since=cursor) as resumed:
                    frames = await frames_until(resumed, "ready")
                    missed = [
                        f["message"]["content"] for f in frames if f["type"] == "message.created"
                    ]
                    assert missed == ["while you were away"]
                    assert (
                        await on(guest, http_b).get(f"/api/v1/rooms/{room['code']}/participants")
                    ).status_code == 200
    finally:
        await asyncio.to_thread(stop, leaving)


# -- the gateway: one socket, topics from several instances --------------------------------


async def test_one_gateway_socket_follows_two_rooms_served_by_two_instances(
    cluster: Cluster, fresh: asyncpg.Connection
) -> None:
    async with (
        httpx.AsyncClient(base_url=cluster.a.url) as http_a,
        httpx.AsyncClient(base_url=cluster.b.url) as http_b,
    ):
        ada, grace, linus = await guest_of(http_a), await guest_of(http_b), await guest_of(http_a)
        first = await ada.create_room(display_name="Ada")
        second = await grace.create_room(display_name="Grace")
        third = await linus.create_room(display_name="Linus")
        you = await guest_of(http_a)
        assert (await you.join(first["code"], "You")).status_code == 200
        assert (await on(you, http_b).join(second["code"], "You")).status_code == 200
        topic_1, topic_2 = f"room:{first['id']}", f"room:{second['id']}"

        async with connect(f"{cluster.a.ws_url}/ws?token={you.token}") as ws:
            assert (await next_of(ws, "ready"))["subscriber"] == you.participant_id
            for name in (topic_1, topic_2):
                await ws.send(json.dumps({"type": "subscribe", "topic": name}))
                subscribed = await next_of(ws, "subscribed")
                assert subscribed["topic"] == name
                assert subscribed["you"]["display_name"] == "You"

            # A topic the caller may not see is refused by name; the socket stays open.
            await ws.send(json.dumps({"type": "subscribe", "topic": f"room:{third['id']}"}))
            refused = await next_of(ws, "error")
            assert refused["topic"] == f"room:{third['id']}"
            assert refused["code"] == "not_a_participant"
            await ws.send(json.dumps({"type": "subscribe", "topic": "nothing:1"}))
            assert (await next_of(ws, "error"))["code"] == "unknown_topic"

            # Each room's message is posted on a different instance; both arrive, tagged.
            await ada.post(f"/api/v1/rooms/{first['code']}/chat/messages", json={"content": "one"})
            await grace.post(
                f"/api/v1/rooms/{second['code']}/chat/messages", json={"content": "two"}
            )
            seen: dict[str, str] = {}
            async with asyncio.timeout(10):
                while len(seen) < 2:
                    frame = json.loads(await ws.recv())
                    if frame["type"] == "message.created":
                        assert frame["cursor"]
                        seen[frame["topic"]] = frame["message"]["content"]
            assert seen == {topic_1: "one", topic_2: "two"}

            # Sending on a topic: chat through the gateway, acknowledged with its topic.
            await ws.send(
                json.dumps(
                    {"type": "message.send", "topic": topic_2, "content": "hi", "client_id": "c1"}
                )
            )
            sent = await next_of(ws, "message.sent")
            assert sent["topic"] == topic_2 and sent["client_id"] == "c1"

            # The first meeting ends: its topic closes, the socket and the other topic live on.
            await ada.post(f"/api/v1/rooms/{first['code']}/end")
            frames = await frames_until(ws, "unsubscribed")
            assert any(f["type"] == "room.ended" and f["topic"] == topic_1 for f in frames)
            assert frames[-1]["topic"] == topic_1 and frames[-1]["code"] == 4410
            await grace.post(
                f"/api/v1/rooms/{second['code']}/chat/messages", json={"content": "still here"}
            )
            message = await next_of(ws, "message.created")
            assert message["topic"] == topic_2 and message["message"]["content"] == "still here"
            await ws.send(json.dumps({"type": "ping"}))
            assert await next_of(ws, "pong") == {"type": "pong"}
        await grace.post(f"/api/v1/rooms/{second['code']}/end")
        await linus.post(f"/api/v1/rooms/{third['code']}/end")


async def test_a_gateway_subscription_replays_what_was_missed_since_its_cursor(
    cluster: Cluster, fresh: asyncpg.Connection
) -> None:
    async with (
        httpx.AsyncClient(base_url=cluster.a.url) as http_a,
        httpx.AsyncClient(base_url=cluster.b.url) as http_b,
    ):
        host = await guest_of(http_a)
        room = await host.create_room(display_name="Host")
        topic = f"room:{room['id']}"
        async with connect(f"{cluster.b.ws_url}/ws?token={host.token}") as ws:
            await ws.send(json.dumps({"type": "subscribe", "topic": topic}))
            cursor = (await next_of(ws, "subscribed"))["cursor"]
            await ws.send(json.dumps({"type": "unsubscribe", "topic": topic}))
            assert (await next_of(ws, "unsubscribed"))["topic"] == topic
            for text in ("missed one", "missed two"):
                await on(host, http_b).post(
                    f"/api/v1/rooms/{room['code']}/chat/messages", json={"content": text}
                )
            # Subscribed by its code: the answer names the room by id.
            await ws.send(
                json.dumps({"type": "subscribe", "topic": f"room:{room['code']}", "since": cursor})
            )
            frames = await frames_until(ws, "subscribed")
            replayed = [f["message"]["content"] for f in frames if f["type"] == "message.created"]
            assert replayed == ["missed one", "missed two"]
            assert all(f["topic"] == topic for f in frames)
            assert frames[-1]["cursor"] == frames[-2]["cursor"]
        async with connect(f"{cluster.a.ws_url}/ws?token=forged.credential") as ws:
            assert (await next_of(ws, "error"))["code"] == "invalid_credential"
            assert (await closed_with(ws))[0] == 4401
        await host.post(f"/api/v1/rooms/{room['code']}/end")


async def test_signing_out_on_one_instance_closes_the_sessions_sockets_on_the_other(
    cluster: Cluster,
    fresh: asyncpg.Connection,
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    http_a, http_b = clients
    account = {"email": "ada@example.org", "password": "correct horse battery"}
    registered = await http_a.post("/api/v1/accounts", json={**account, "display_name": "Ada"})
    assert registered.status_code == 201, registered.text
    http_a.cookies.clear()
    bearer = {"authorization": f"Bearer {registered.json()['token']}"}
    other = (await http_b.post("/api/v1/sessions", json=account)).json()["token"]
    http_b.cookies.clear()
    other_bearer = {"authorization": f"Bearer {other}"}
    async with (
        connect(f"{cluster.a.ws_url}/ws", additional_headers=bearer) as on_a,
        connect(f"{cluster.b.ws_url}/ws", additional_headers=other_bearer) as on_b,
    ):
        await next_of(on_a, "ready")
        await next_of(on_b, "ready")
        # Signed out through instance B; the socket of that session is on instance A.
        assert (await http_b.delete("/api/v1/sessions/current", headers=bearer)).status_code == 204
        assert (await next_of(on_a, "error"))["code"] == "session_expired"
        assert await closed_with(on_a) == (4440, "session_revoked")
        await on_b.send(json.dumps({"type": "ping"}))
        assert (await next_of(on_b, "pong"))["type"] == "pong"

"""`moot serve` as a user runs it: no URLs set, so it brings up embedded PostgreSQL and Valkey."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import free_port, start_moot


class Server:
    def __init__(self, data_dir: Path, env_dir: Path, **settings: str) -> None:
        self.data_dir = data_dir
        self.settings = settings  # MOOT_* variables
        self.env_dir = env_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = env_dir / f"serve-{self.port}.log"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOOT_")}
        env.update(MOOT_LOG_FORMAT="json", MOOT_CLEANUP_ENABLED="false", **self.settings)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "moot.cli",
                    "serve",
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(self.data_dir),
                ],
                cwd=self.env_dir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"moot serve did not become ready:\n{self.log.read_text()}")

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.process = None
        return code


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data", tmp_path)
    yield srv
    if srv.process is not None:
        srv.process.kill()
        srv.process.wait()


def postgres_pid(data_dir: Path) -> int:
    return int((data_dir / "postgres" / "postmaster.pid").read_text().splitlines()[0])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is as good as gone.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_a_fresh_moot_serve_runs_a_whole_meeting_on_embedded_services(server: Server) -> None:
    server.start()
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.get("/health").json() == {"status": "ok"}
        assert http.get("/ready").json() == {"status": "ok", "postgres": "ok", "redis": "ok"}
        assert "swagger" in http.get("/docs").text.lower()

        host = http.post("/api/v1/identity").json()
        guest = http.post("/api/v1/identity").json()
        room = http.post(
            "/api/v1/rooms",
            json={"title": "Laptop"},
            headers={"X-Participant-ID": host["token"]},
        ).json()
        joined = http.post(
            f"/api/v1/rooms/{room['code']}/join",
            json={"display_name": "Guest"},
            headers={"X-Participant-ID": guest["token"]},
        )
        assert joined.status_code == 200
        listing = http.get(
            f"/api/v1/rooms/{room['code']}/participants",
            headers={"X-Participant-ID": guest["token"]},
        ).json()["items"]
        assert [p["role"] for p in listing] == ["host", "participant"]
        assert "moot_rooms_active 1.0" in http.get("/metrics").text

    postgres = postgres_pid(server.data_dir)
    assert server.stop() == 0
    # Stopping moot stops the servers it started.
    deadline = time.monotonic() + 10
    while alive(postgres) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(postgres)
    assert not (server.data_dir / "valkey" / "valkey.sock").exists() or not _answers(
        server.data_dir / "valkey" / "valkey.sock"
    )

    # A restart reuses the data directory: the room and the host's identity are still there.
    server.start()
    with httpx.Client(base_url=server.url, timeout=10) as http:
        again = http.get(f"/api/v1/rooms/{room['code']}")
        assert again.status_code == 200
        assert again.json()["participant_count"] == 2
        ended = http.post(
            f"/api/v1/rooms/{room['code']}/end", headers={"X-Participant-ID": host["token"]}
        )
        assert ended.status_code == 200
    assert server.stop() == 0


def _answers(sock_path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            sock.connect(str(sock_path))
            return True
    except OSError:
        return False


def test_serve_with_urls_starts_nothing_embedded(server: Server, stores) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOOT_")}
    env.update(
        MOOT_DATABASE_URL=stores.database_url,
        MOOT_REDIS_URL=stores.redis_url,
        MOOT_SECRET_KEY="x" * 40,
        MOOT_LOG_FORMAT="json",
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "moot.cli",
            "serve",
            "--port",
            str(server.port),
            "--data-dir",
            str(server.data_dir),
        ],
        cwd=server.env_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        ready = False
        while time.monotonic() < deadline and not ready:
            try:
                ready = httpx.get(f"{server.url}/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.1)
        assert ready
        assert not (server.data_dir / "postgres").exists()
        assert not (server.data_dir / "valkey").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=20)[0].decode()
    assert process.returncode == 0, output
    assert "embedded" not in output.replace('"embedded": false', "")


def start_with_urls(port: int, data_dir: Path, stores, **extra: str) -> subprocess.Popen[bytes]:  # type: ignore[no-untyped-def]
    return start_moot("serve", port, data_dir, stores, **extra)  # type: ignore[arg-type]


async def test_two_moot_processes_deliver_each_others_chat(tmp_path: Path, stores) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import json

    from websockets.asyncio.client import connect

    ports = [free_port(), free_port()]
    # B opts in to permessage-deflate; A keeps the default (off), so both paths are covered.
    processes = [
        start_with_urls(ports[0], tmp_path / "a", stores),
        start_with_urls(ports[1], tmp_path / "b", stores, MOOT_WS_COMPRESSION="true"),
    ]
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            for port in ports:
                for _ in range(300):
                    try:
                        if (await http.get(f"http://127.0.0.1:{port}/ready")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.05)
                else:
                    raise AssertionError(f"instance on {port} did not start")
            a, b = (f"http://127.0.0.1:{port}" for port in ports)
            host = (await http.post(f"{a}/api/v1/identity")).json()["token"]
            guest = (await http.post(f"{b}/api/v1/identity")).json()["token"]
            room = (
                await http.post(f"{a}/api/v1/rooms", json={}, headers={"X-Participant-ID": host})
            ).json()
            joined = await http.post(
                f"{b}/api/v1/rooms/{room['code']}/join",
                json={"display_name": "B"},
                headers={"X-Participant-ID": guest},
            )
            assert joined.status_code == 200

            async def next_message(ws, content: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
                async with asyncio.timeout(5):
                    while True:
                        frame = json.loads(await ws.recv())
                        if (
                            frame["type"] == "message.created"
                            and frame["message"]["content"] == content
                        ):
                            return frame  # type: ignore[no-any-return]

            ws_a = f"ws://127.0.0.1:{ports[0]}/ws/chat/{room['code']}?token={host}"
            ws_b = f"ws://127.0.0.1:{ports[1]}/ws/chat/{room['code']}?token={guest}"
            async with connect(ws_a) as on_a, connect(ws_b) as on_b:
                for ws in (on_a, on_b):
                    assert json.loads(await ws.recv())["type"] == "ready"
                assert on_a.response and on_b.response
                assert "Sec-WebSocket-Extensions" not in on_a.response.headers
                assert "permessage-deflate" in on_b.response.headers["Sec-WebSocket-Extensions"]
                await on_a.send(json.dumps({"type": "message.send", "content": "hello from A"}))
                assert (await next_message(on_b, "hello from A"))["message"][
                    "display_name"
                ] == "Host"
                sent = await http.post(
                    f"{b}/api/v1/rooms/{room['code']}/chat/messages",
                    json={"content": "hello from B"},
                    headers={"X-Participant-ID": guest},
                )
                assert sent.status_code == 201
                assert (await next_message(on_a, "hello from B"))["message"]["display_name"] == "B"
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            assert process.wait(timeout=20) == 0


async def test_serve_runs_on_granian_too(tmp_path: Path, stores) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import json

    from websockets.asyncio.client import connect

    port = free_port()
    process = start_with_urls(port, tmp_path / "granian", stores, MOOT_SERVER="granian")
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            for _ in range(300):
                try:
                    if (await http.get("/ready")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("granian did not start")
            host = (await http.post("/api/v1/identity")).json()["token"]
            room = (
                await http.post("/api/v1/rooms", json={}, headers={"X-Participant-ID": host})
            ).json()
            async with connect(f"ws://127.0.0.1:{port}/ws/chat/{room['code']}?token={host}") as ws:
                assert json.loads(await ws.recv())["type"] == "ready"
                await ws.send(json.dumps({"type": "message.send", "content": "on granian"}))
                async with asyncio.timeout(5):
                    while True:
                        frame = json.loads(await ws.recv())
                        if (
                            frame["type"] == "message.created"
                            and frame["message"]["content"] == "on granian"
                        ):
                            break
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0

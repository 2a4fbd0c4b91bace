"""Connections that never finish their request are closed by `moot serve` itself, over real
sockets against a real process: nothing sent at all, half a request head, a body shorter
than its Content-Length. Meanwhile everyone else is served."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import free_port, start_moot, wait_ready

HALF_A_HEAD = b"GET /health HTTP/1.1\r\nHost: moot.test\r\nUser-Agent: slow"
SHORT_BODY = (
    b"POST /api/v1/rooms HTTP/1.1\r\nHost: moot.test\r\ncontent-type: application/json\r\n"
    b'content-length: 100\r\n\r\n{"title": '
)
STALLS = {"silent": b"", "half_a_head": HALF_A_HEAD, "short_body": SHORT_BODY}


async def stall(port: int, sent: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection that sends `sent` and then nothing. Keep the writer: a writer that is
    garbage-collected closes its connection, from our side."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if sent:
        writer.write(sent)
        await writer.drain()
    return reader, writer


async def closed_by_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    """Everything the server sent before it closed the connection (EOF or reset)."""
    received = b""
    try:
        while chunk := await reader.read(65536):
            received += chunk
    except ConnectionResetError:
        pass
    assert not writer.is_closing()  # the server closed it, not us
    writer.close()
    return received


@pytest.mark.parametrize(
    ("server", "kinds"),
    [
        ("uvicorn", ["silent", "half_a_head", "short_body"]),
        # granian's own timer (hyper's header_read_timeout) starts with the head's first byte:
        # a silent connection and a short body are not covered (README, Operations).
        ("granian", ["half_a_head"]),
    ],
)
async def test_three_hundred_stalled_connections_are_closed_within_seconds(
    tmp_path: Path, stores: Any, server: str, kinds: list[str]
) -> None:
    if server == "granian":
        pytest.importorskip("granian")
    port = free_port()
    with (tmp_path / "moot.log").open("wb") as output:
        process = start_moot(
            "serve",
            port,
            tmp_path / "data",
            stores,
            output=output,
            MOOT_SERVER=server,
            MOOT_HTTP_REQUEST_TIMEOUT_SECONDS="1",
        )
        try:
            base = f"http://127.0.0.1:{port}"
            await wait_ready(base)
            stalled = [await stall(port, STALLS[kinds[i % len(kinds)]]) for i in range(300)]
            waits: list[Awaitable[bytes]] = [closed_by_server(*pair) for pair in stalled]
            # Well-behaved clients are served while the stalled ones wait for their deadline.
            async with httpx.AsyncClient(base_url=base, timeout=5) as http:
                assert (await http.post("/api/v1/identity")).status_code == 201
            # Generous: the deadline is 1 s, and unfixed, they would stay open for ever.
            async with asyncio.timeout(20):
                answers = await asyncio.gather(*waits)
            assert all(answer == b"" for answer in answers), {a[:40] for a in answers}
            async with httpx.AsyncClient(base_url=base, timeout=5) as http:
                assert (await http.get("/ready")).status_code == 200
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(process.wait, 20)
    assert process.returncode == 0


async def test_a_client_that_leaves_mid_request_is_logged_as_gone_not_as_a_server_error(
    tmp_path: Path, stores: Any
) -> None:
    """Half a body, then the client closes: the request line says 499 (client closed), the
    way nginx logs it, and nothing is logged as a failure of ours."""
    port = free_port()
    log_file = tmp_path / "moot.log"
    with log_file.open("wb") as output:
        process = start_moot("serve", port, tmp_path / "data", stores, output=output)
        try:
            base = f"http://127.0.0.1:{port}"
            await wait_ready(base)
            _, writer = await stall(port, SHORT_BODY)
            writer.close()
            await writer.wait_closed()
            # The server notices the closed connection and logs the request: wait for the
            # line (the process writes it after the disconnect reaches the app).
            async with asyncio.timeout(20):
                while not _request_lines(log_file, "POST"):
                    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
                        assert (await http.get("/health")).status_code == 200
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(process.wait, 20)
    [line] = _request_lines(log_file, "POST")
    assert line["status"] == 499, line
    assert "unhandled_error" not in log_file.read_text(encoding="utf-8")
    assert all(line["status"] != 500 for line in _request_lines(log_file, "GET"))


def _request_lines(log_file: Path, method: str) -> list[dict[str, Any]]:
    lines = []
    for raw in log_file.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            line = json.loads(raw)
            if line.get("event") == "request" and line.get("method") == method:
                lines.append(line)
    return lines

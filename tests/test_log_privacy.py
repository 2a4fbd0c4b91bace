"""What a real `moot serve` writes to its logs at the default level: ids, routes, statuses and
timings, never a credential, a token, a ticket, a client address or what people said.

One meeting runs through everything that takes a secret or carries words (identities, a room,
a join, chat over REST and both sockets, a forged credential, a transcription against the
Gladia stand-in), then every line the process printed is searched for them.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from moot.infra.logging import redact
from tests.conftest import Guest
from tests.gladia_standin import GladiaStandIn
from tests.processes import SHARED_SECRET, free_port, start_moot, wait_ready
from tests.test_chat_ws import closed_with, next_of
from tests.test_transcription import audio, stream

SAID_IN_CHAT = "zebra-quartz-confidential-remark"
SAID_ALOUD = "walrus-umbrella-spoken-words"
NAMES = ("Adalind Vexley", "Grisela Montford")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
IPV6_LOOPBACK = re.compile(r"(?<![0-9A-Za-z:])::1(?![0-9A-Za-z:])")


async def _drive_a_meeting(base: str, ws_base: str, gladia_texts: list[str]) -> set[str]:
    """Everything a meeting does; returns every secret value handed out along the way."""
    secrets: set[str] = set()
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:

        async def identity() -> Guest:
            body = (await http.post("/api/v1/identity")).json()
            secrets.add(body["token"])
            return Guest(http, body["token"], body["participant_id"])

        host, guest = await identity(), await identity()
        room = await host.create_room(display_name=NAMES[0], title="Quarterly numbers")
        code = room["code"]
        assert (await guest.join(code, NAMES[1])).status_code == 200
        # A credential in a query string (where it does not belong) must not reach the logs.
        assert (await http.get(f"/api/v1/rooms/{code}?token={host.token}")).status_code == 200
        sent = await host.post(f"/api/v1/rooms/{code}/chat/messages", {"content": SAID_IN_CHAT})
        assert sent.status_code == 201, sent.text

        async def ticket(path: str) -> str:
            value: str = (await guest.post(path)).json()["ticket"]
            secrets.add(value)
            return value

        # Clients written before tickets send the credential itself: it stays out of logs too.
        async with connect(f"{ws_base}/ws/chat/{code}?token={guest.token}") as old_client:
            await next_of(old_client, "ready")

        room_ticket = await ticket(f"/api/v1/rooms/{code}/ws-ticket")
        async with connect(f"{ws_base}/ws/chat/{code}?ticket={room_ticket}") as room_socket:
            await next_of(room_socket, "ready")
            payload = {"type": "message.send", "content": SAID_IN_CHAT + " again"}
            await room_socket.send(json.dumps(payload))
            await next_of(room_socket, "message.created")

            gateway_ticket = await ticket("/api/v1/ws-ticket")
            async with connect(f"{ws_base}/ws?ticket={gateway_ticket}") as gateway:
                await next_of(gateway, "ready")
                await gateway.send(json.dumps({"type": "subscribe", "topic": f"room:{code}"}))
                await next_of(gateway, "subscribed")
                await gateway.send(json.dumps({"type": "typing", "topic": f"room:{room['id']}"}))
                await gateway.send(
                    json.dumps(
                        {"type": "message.send", "topic": f"room:{room['id']}", "content": "x"}
                    )
                )
                await next_of(gateway, "message.created")

            forged = "00000000-0000-0000-0000-000000000000.forged-signature-value"
            async with connect(f"{ws_base}/ws/chat/{code}?token={forged}") as refused:
                assert (await closed_with(refused))[0] == 4401

            started = (await host.post(f"/api/v1/rooms/{code}/transcription/start")).json()
            secrets.add(started["token"])
            async with connect(f"{started['worker_url']}?token={started['token']}") as mic:
                await stream(mic, audio(1))
                final = await next_of(room_socket, "transcript.final", timeout=10)
                assert final["text"] == gladia_texts[0]
                await mic.send(json.dumps({"type": "stop"}))
                await closed_with(mic)

        assert (await host.post(f"/api/v1/rooms/{code}/end")).status_code == 200
    return secrets


async def test_no_log_line_carries_a_secret_an_address_or_what_was_said(
    tmp_path: Path, stores: Any
) -> None:
    log_file = tmp_path / "moot.log"
    port = free_port()
    async with GladiaStandIn() as gladia:
        gladia.texts = [SAID_ALOUD]
        with log_file.open("wb") as output:
            process = start_moot(
                "serve",
                port,
                tmp_path / "data",
                stores,
                output=output,
                MOOT_GLADIA_BASE_URL=gladia.base_url,
                MOOT_GLADIA_API_KEY=gladia.api_key,
                MOOT_TRANSCRIPT_FLUSH_INTERVAL_MS="50",
            )
            try:
                await wait_ready(f"http://127.0.0.1:{port}")
                secrets = await _drive_a_meeting(
                    f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", gladia.texts
                )
            finally:
                process.send_signal(signal.SIGTERM)
                await asyncio.to_thread(process.wait, 20)
        secrets |= {gladia.api_key, SHARED_SECRET}
        secrets |= {session.token for session in gladia.sessions.values()}

    lines = log_file.read_text(encoding="utf-8").splitlines()
    forbidden = {*secrets, SAID_IN_CHAT, SAID_ALOUD, *NAMES, "token=", "ticket="}
    leaks = [
        line
        for line in lines
        if any(value in line for value in forbidden)
        or IPV4.search(line)
        or IPV6_LOOPBACK.search(line)
    ]
    assert not leaks, "these log lines leak:\n" + "\n".join(leaks)
    # The log saw the meeting: a line per request and per socket, by route.
    routes = {json.loads(line).get("route") for line in lines}
    assert {"/api/v1/rooms/{room}/join", "/ws/chat/{room}", "/ws"} <= routes, routes


def test_library_lines_lose_their_query_strings_and_addresses() -> None:
    """What uvicorn used to print for every socket, and lines like it from other libraries."""
    leaked = '127.0.0.1:53710 - "WebSocket /ws/chat/abc-defg-hij?token=x.y&since=1-0" [accepted]'
    assert IPV4.search(leaked)  # the scan above would have seen it

    assert redact(leaked) == '<ip>:53710 - "WebSocket /ws/chat/abc-defg-hij" [accepted]'
    assert redact("[::1]:8000 GET /ws?ticket=abc") == "[<ip>]:8000 GET /ws"
    assert redact("from 2001:db8::7 and fe80::1") == "from <ip> and <ip>"
    assert redact("Finished server process [18112] at 12:04:33") == (
        "Finished server process [18112] at 12:04:33"
    )

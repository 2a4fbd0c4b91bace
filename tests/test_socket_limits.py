"""What one room socket may cost everyone else: typing and signalling are throttled per
socket (in memory), and a socket that stops reading is closed once its unsent frames pass a
size in bytes, long before they pass the count of frames."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket as sockets
from collections.abc import AsyncIterator, Awaitable, Callable

from tests.conftest import LiveMoot
from tests.test_chat_ws import frames_until, meeting, next_of, socket
from tests.test_signalling import ice, join, offer, ready, say, until_pong

LiveFactory = Callable[..., Awaitable[LiveMoot]]


async def test_a_typing_flood_reaches_the_others_as_one_typing_event(
    live_factory: LiveFactory,
) -> None:
    # One typing event per 100 s: the flood below fits in that window on any machine.
    live = await live_factory(ws_typing_per_second=0.01)
    room, host, guest = await meeting(live)
    async with (
        socket(live, room["code"], host) as host_ws,
        socket(live, room["code"], guest) as guest_ws,
    ):
        await ready(host_ws, guest_ws)
        for _ in range(300):
            await guest_ws.send(json.dumps({"type": "typing"}))
        assert not [f for f in await until_pong(guest_ws) if f["type"] == "error"]  # silent
        await say(guest_ws, "marker")
        seen = await frames_until(host_ws, "message.created")
    assert [f["type"] for f in seen] == ["typing", "message.created"]
    assert seen[0]["participant_id"] == guest.participant_id


async def test_a_signalling_flood_is_cut_at_the_burst_with_one_error(
    live_factory: LiveFactory,
) -> None:
    live = await live_factory(ws_signals_per_second=0.01, ws_signal_burst=5)
    room, host, guest = await meeting(live)
    async with (
        socket(live, room["code"], host) as host_ws,
        socket(live, room["code"], guest) as guest_ws,
    ):
        await ready(host_ws, guest_ws)
        for _ in range(20):
            await guest_ws.send(json.dumps(ice(host.participant_id)))
        errors = [f for f in await until_pong(guest_ws) if f["type"] == "error"]
        assert [(e["code"], e["limit"]) for e in errors] == [("rate_limited", "signal")]
        await say(guest_ws, "marker")
        seen = await frames_until(host_ws, "message.created")
    assert [f["type"] for f in seen] == ["signal.ice"] * 5 + ["message.created"]


async def test_a_reader_that_stops_reading_is_closed_by_the_bytes_it_holds_up(
    live_factory: LiveFactory,
) -> None:
    # 90 offers of 100 kB: 9 MB, past what the kernel buffers on the way plus the 1 MiB byte
    # bound, and far below the bound of 512 frames.
    live = await live_factory(ws_max_frame_bytes=262_144)
    room, host, guest = await meeting(live)
    watcher = await join(live, room, "Watcher")
    async with (
        stalled_socket(live, f"/ws/chat/{room['code']}?token={host.token}") as slow,
        socket(live, room["code"], guest) as guest_ws,
        socket(live, room["code"], watcher) as watcher_ws,
    ):
        await ready(guest_ws, watcher_ws)
        sdp = "v=0\r\n" + "a" * 99_000
        for _ in range(90):
            await guest_ws.send(json.dumps(offer(host.participant_id, sdp)))
        await say(guest_ws, "marker")
        # The watcher has the marker: every offer before it was queued for the slow reader.
        await next_of(watcher_ws, "message.created")
        # Now it reads: some offers, then the close frame (code 1013 and its reason).
        close_payload = (1013).to_bytes(2, "big") + b"too slow; reconnect with since="
        received = await read_until(slow, close_payload)
    assert received.count(b'"type":"signal.offer"') < 90


@contextlib.asynccontextmanager
async def stalled_socket(live: LiveMoot, path: str) -> AsyncIterator[asyncio.StreamReader]:
    """A WebSocket client that stops reading once it is ready, with a small receive buffer
    (a websockets client keeps reading into memory whatever its queue says)."""
    raw = sockets.socket()
    raw.setsockopt(sockets.SOL_SOCKET, sockets.SO_RCVBUF, 4096)  # before connect: the window
    raw.setblocking(False)
    port = int(live.ws_url.rpartition(":")[2])
    await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=raw)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    writer.write(request.encode())
    await read_until(reader, b'"type":"ready"')
    try:
        yield reader
    finally:
        writer.close()


async def read_until(reader: asyncio.StreamReader, marker: bytes) -> bytes:
    """Raw bytes up to and including `marker` (frames from the server are not masked)."""
    data = b""
    async with asyncio.timeout(10):
        while marker not in data:
            chunk = await reader.read(65_536)
            assert chunk, data[-200:]
            data += chunk
    return data

"""Hostile input: JSON nested past the interpreter's stack and invalid UTF-8 inside a string
are the client's mistake on every endpoint and every socket, never a 500 or a dead socket."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import LiveMoot, Moot
from tests.test_chat_ws import closed_with, next_of

DEEP = "[" * 1000 + "]" * 1000
HOSTILE_BODIES = {
    "nested 1,000 deep": b'{"display_name": ' + DEEP.encode() + b', "content": "x"}',
    "nested 1,000 deep at the top": DEEP.encode(),
    "invalid UTF-8 in a string": b'{"display_name": "\xff\xfe", "content": "\xc3"}',
}


def operations(schema: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(method, path template, whether it reads a JSON body) for every operation."""
    return [
        (method.upper(), path, "requestBody" in operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]


@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
async def test_every_endpoint_answers_a_hostile_body_with_400(moot: Moot, body: bytes) -> None:
    host = await moot.guest()
    room = await host.create_room(display_name="Host")
    values = {
        "room": room["code"],
        "target": host.participant_id,
        "message_id": "1795296193780-9f2c01ab",
        # Account and space routes: ids and codes that name nothing (the body comes first).
        "session_id": uuid.UUID(int=1),
        "space_id": uuid.UUID(int=2),
        "member_id": uuid.UUID(int=3),
        "code": "no-such-invite",
        "channel_id": uuid.UUID(int=4),
        "emoji": "x",
    }
    for method, template, reads_body in operations(moot.app.openapi_schema.to_schema()):
        # A channel message's id is a number, a room chat message's a stream id.
        durable = template.startswith("/api/v1/channels/")
        path = template.format(**{**values, **({"message_id": 1} if durable else {})})
        response = await moot.http.request(
            method,
            path,
            content=body,
            headers={**host.headers, "content-type": "application/json"},
        )
        where = f"{method} {template}"
        assert response.status_code != 500, (where, response.text)
        if response.status_code >= 400:
            assert set(response.json()) >= {"code", "message"}, where
        if reads_body:
            assert response.status_code == 400, (where, response.text)
            error = response.json()
            assert error["code"] == "invalid_request", where
            assert "not valid" in error["message"], where


# Nesting in a field the frame does not have: msgspec descends into it to skip it.
HOSTILE_FRAMES = [
    '{"type": "typing", "x": ' + DEEP + "}",
    '{"type": "ping", "x": ' + DEEP + "}",
    '{"type": "message.send", "content": "x", "client_id": "c", "x": ' + DEEP + "}",
]


async def answered_and_alive(ws: ClientConnection, frame: str | bytes) -> dict[str, Any]:
    """Send `frame`; return the error event it got, after checking the socket still answers."""
    await ws.send(frame)
    error = await next_of(ws, "error")
    await ws.send(json.dumps({"type": "ping"}))
    await next_of(ws, "pong")
    return error


async def test_the_room_socket_answers_hostile_frames_and_stays_open(live: LiveMoot) -> None:
    host = await live.guest()
    room = await host.create_room(display_name="Host")
    async with connect(f"{live.ws_url}/ws/chat/{room['id']}?token={host.token}") as ws:
        await next_of(ws, "ready")
        for frame in HOSTILE_FRAMES:
            error = await answered_and_alive(ws, frame)
            assert error["code"] == "invalid_frame"


async def test_the_gateway_answers_hostile_frames_and_stays_open(live: LiveMoot) -> None:
    host = await live.guest()
    room = await host.create_room(display_name="Host")
    topic = f"room:{room['id']}"
    async with connect(f"{live.ws_url}/ws?token={host.token}") as ws:
        await next_of(ws, "ready")
        await ws.send(json.dumps({"type": "subscribe", "topic": topic}))
        await next_of(ws, "subscribed")
        for frame in HOSTILE_FRAMES:
            addressed = frame.replace("{", '{"topic": "' + topic + '", ', 1)
            error = await answered_and_alive(ws, addressed)
            assert (error["code"], error["message"]) == (
                "invalid_frame",
                "JSON is nested too deeply",
            )
        await ws.send(json.dumps({"type": "message.send", "topic": topic, "content": "still here"}))
        assert (await next_of(ws, "message.created"))["message"]["content"] == "still here"


@pytest.mark.parametrize("path", ["/ws/chat/{room}", "/ws"])
async def test_invalid_utf8_in_a_text_frame_fails_the_protocol_not_the_server(
    live: LiveMoot, path: str
) -> None:
    """RFC 6455 makes invalid UTF-8 in a text frame fatal to the connection: the WebSocket
    layer closes it with 1007 before moot sees it, never 4500. As a binary frame the same
    bytes are an error event."""
    host = await live.guest()
    room = await host.create_room(display_name="Host")
    url = f"{live.ws_url}{path.format(room=room['id'])}?token={host.token}"
    payload = b'{"type": "message.send", "content": "\xff\xfe"}'
    async with connect(url) as ws:
        await next_of(ws, "ready")
        error = await answered_and_alive(ws, payload)  # binary
        assert error["code"] == "invalid_frame"
        await ws.send(payload, text=True)
        assert (await closed_with(ws))[0] == 1007


async def test_a_transcript_cursor_past_a_bigint_is_refused_not_a_500(moot: Moot) -> None:
    # Found by tests/test_fuzz.py: PostgreSQL cannot compare a segment id with 2**78.
    host = await moot.guest()
    room = await host.create_room(display_name="Host")
    page = await host.get(f"/api/v1/rooms/{room['code']}/transcripts?after={2**78}")
    assert (page.status_code, page.json()["code"]) == (422, "validation_failed")
    last = await host.get(f"/api/v1/rooms/{room['code']}/transcripts?after={2**63 - 1}")
    assert last.status_code == 200 and last.json()["items"] == []

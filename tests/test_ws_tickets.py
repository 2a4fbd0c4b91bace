"""WebSocket tickets: one socket each, for one purpose, within seconds; the credential stays
out of socket URLs. `?token=<credential>` keeps working for clients written before them."""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis
from websockets.asyncio.client import connect

from tests.conftest import Guest, LiveMoot
from tests.test_chat_ws import closed_with, meeting, next_of


async def room_ticket(guest: Guest, room: str) -> dict[str, Any]:
    response = await guest.post(f"/api/v1/rooms/{room}/ws-ticket")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def gateway_ticket(guest: Guest) -> str:
    response = await guest.post("/api/v1/ws-ticket")
    assert response.status_code == 200, response.text
    ticket: str = response.json()["ticket"]
    return ticket


async def assert_refused(url: str) -> None:
    async with connect(url) as ws:
        error = json.loads(await ws.recv())
        assert (error["type"], error["code"]) == ("error", "invalid_credential")
        assert await closed_with(ws) == (4401, "invalid_credential")


async def test_a_room_ticket_opens_that_rooms_socket_once(live: LiveMoot, redis: Redis) -> None:
    room, _, guest = await meeting(live)
    issued = await room_ticket(guest, room["code"])
    assert issued["expires_in"] == 30
    assert 0 < await redis.ttl(f"ws_ticket:{issued['ticket']}") <= 30
    url = f"{live.ws_url}/ws/chat/{room['code']}?ticket={issued['ticket']}"

    async with connect(url) as ws:
        ready = await next_of(ws, "ready")
        assert ready["you"]["participant_id"] == guest.participant_id
        await ws.send(json.dumps({"type": "message.send", "content": "by ticket"}))
        created = await next_of(ws, "message.created")
        assert created["message"]["participant_id"] == guest.participant_id

    await assert_refused(url)  # used once: gone


async def test_a_ticket_opens_only_the_socket_it_was_issued_for(live: LiveMoot) -> None:
    room, host, guest = await meeting(live)
    other = await host.create_room(display_name="Host")
    for_room = (await room_ticket(host, room["code"]))["ticket"]
    await assert_refused(f"{live.ws_url}/ws/chat/{other['code']}?ticket={for_room}")
    for_room = (await room_ticket(host, room["code"]))["ticket"]
    await assert_refused(f"{live.ws_url}/ws?ticket={for_room}")
    for_gateway = await gateway_ticket(guest)
    await assert_refused(f"{live.ws_url}/ws/chat/{room['code']}?ticket={for_gateway}")
    await assert_refused(f"{live.ws_url}/ws/chat/{room['code']}?ticket=made-up")
    # A ticket refused for the wrong socket was spent all the same: no second try elsewhere.
    await assert_refused(f"{live.ws_url}/ws?ticket={for_gateway}")


async def test_a_ticket_that_expired_in_redis_is_refused(live: LiveMoot, redis: Redis) -> None:
    room, _, guest = await meeting(live)
    ticket = (await room_ticket(guest, room["code"]))["ticket"]
    await redis.delete(f"ws_ticket:{ticket}")  # what its TTL does after `expires_in` seconds
    await assert_refused(f"{live.ws_url}/ws/chat/{room['code']}?ticket={ticket}")


async def test_room_tickets_go_to_participants_only(live: LiveMoot) -> None:
    room, host, _ = await meeting(live)
    stranger = await live.guest()
    refused = await stranger.post(f"/api/v1/rooms/{room['code']}/ws-ticket")
    assert (refused.status_code, refused.json()["code"]) == (403, "not_a_participant")
    unknown = await host.post("/api/v1/rooms/zzz-zzzz-zzz/ws-ticket")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "room_not_found")
    forged = await live.http.post(
        "/api/v1/ws-ticket", headers={"X-Participant-ID": "forged.credential"}
    )
    assert (forged.status_code, forged.json()["code"]) == (401, "invalid_credential")
    await host.post(f"/api/v1/rooms/{room['code']}/end")
    ended = await host.post(f"/api/v1/rooms/{room['code']}/ws-ticket")
    assert (ended.status_code, ended.json()["code"]) == (410, "room_ended")


async def test_a_gateway_ticket_opens_the_gateway_for_its_holder(live: LiveMoot) -> None:
    room, host, _ = await meeting(live)
    ticket = await gateway_ticket(host)
    async with connect(f"{live.ws_url}/ws?ticket={ticket}") as ws:
        ready = await next_of(ws, "ready")
        assert ready["subscriber"] == host.participant_id
        await ws.send(json.dumps({"type": "subscribe", "topic": f"room:{room['code']}"}))
        subscribed = await next_of(ws, "subscribed")
        assert subscribed["you"]["participant_id"] == host.participant_id
    await assert_refused(f"{live.ws_url}/ws?ticket={ticket}")

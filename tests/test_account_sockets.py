"""An account's sockets and its own topic, against real PostgreSQL and Redis on two instances:
a socket lives only as long as the session it was opened with (revoked, signed out, a
password change, a deleted account, an expiry), on whichever instance it is; `user:{id}` is
for that account alone and tells its other devices what changed; a deleted account's chat
messages and seat take the deleted-account name in rooms still going."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import asyncpg
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import Guest, LiveMoot
from tests.test_chat_ws import closed_with, next_of

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a much better passphrase"
LiveFactory = Callable[..., Awaitable[LiveMoot]]
REVOKED = (4440, "session_revoked")


class Device:
    """One signed-in device of an account: its session token, sent as a bearer token."""

    def __init__(self, live: LiveMoot, body: dict[str, Any]) -> None:
        self.live = live
        self.token: str = body["token"]
        self.account: dict[str, Any] = body["account"]
        self.headers = {"authorization": f"Bearer {self.token}"}

    async def request(self, method: str, path: str, **kw: Any) -> Any:
        response = await self.live.http.request(method, path, headers=self.headers, **kw)
        self.live.http.cookies.clear()  # each device is its bearer token, never a shared jar
        return response

    async def session_id(self) -> str:
        sessions = (await self.request("GET", "/api/v1/sessions")).json()["items"]
        [current] = [s["id"] for s in sessions if s["current"]]
        return str(current)

    def on(self, live: LiveMoot) -> Device:
        """The same device talking to another instance."""
        return Device(live, {"token": self.token, "account": self.account})


async def register(live: LiveMoot, email: str = "ada@example.org", name: str = "Ada") -> Device:
    response = await live.http.post(
        "/api/v1/accounts", json={"email": email, "password": PASSWORD, "display_name": name}
    )
    assert response.status_code == 201, response.text
    live.http.cookies.clear()
    return Device(live, response.json())


async def sign_in(live: LiveMoot, email: str = "ada@example.org") -> Device:
    response = await live.http.post("/api/v1/sessions", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    live.http.cookies.clear()
    return Device(live, response.json())


Sockets = Callable[..., Awaitable[ClientConnection]]


@pytest.fixture
async def sockets() -> AsyncIterator[Sockets]:
    """Open WebSockets that are closed after the test, whatever happened to them."""
    async with AsyncExitStack() as stack:

        async def open_socket(url: str, headers: dict[str, str] | None = None) -> ClientConnection:
            return await stack.enter_async_context(connect(url, additional_headers=headers))

        yield open_socket


async def gateway(sockets: Sockets, device: Device) -> ClientConnection:
    ws = await sockets(f"{device.live.ws_url}/ws", device.headers)
    ready = await next_of(ws, "ready")
    assert ready["subscriber"] == device.account["id"]
    return ws


async def subscribe(ws: ClientConnection, topic: str) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "subscribe", "topic": topic}))
    answer = json.loads(await ws.recv())
    assert answer.get("topic") == topic, answer
    return dict(answer)


async def assert_open(ws: ClientConnection) -> None:
    await ws.send(json.dumps({"type": "ping"}))
    assert (await next_of(ws, "pong"))["type"] == "pong"


async def assert_revoked(ws: ClientConnection) -> None:
    error = await next_of(ws, "error")
    assert error["code"] == "session_expired"
    assert await closed_with(ws) == REVOKED


# -- revocation closes sockets, on every instance --------------------------------------------


async def test_revoking_a_session_closes_its_sockets_on_every_instance(
    live_factory: LiveFactory, sockets: Sockets
) -> None:
    a, b = await live_factory(), await live_factory()
    laptop = await register(a)
    phone = await sign_in(b)
    host = await b.guest()
    room = await host.create_room(display_name="Host")
    assert (await phone.request("POST", f"/api/v1/rooms/{room['code']}/join", json={})).is_success

    phone_gateway = await gateway(sockets, phone.on(a))
    # A room socket opened with a ticket: the ticket carries the session it was issued to.
    ticket = (await phone.request("POST", f"/api/v1/rooms/{room['code']}/ws-ticket")).json()
    phone_room = await sockets(f"{b.ws_url}/ws/chat/{room['code']}?ticket={ticket['ticket']}")
    await next_of(phone_room, "ready")
    laptop_gateway = await gateway(sockets, laptop.on(b))
    user_topic = f"user:{laptop.account['id']}"
    assert (await subscribe(laptop_gateway, user_topic))["type"] == "subscribed"

    phone_session = await phone.session_id()
    revoked = await laptop.request("DELETE", f"/api/v1/sessions/{phone_session}")
    assert revoked.status_code == 204

    await assert_revoked(phone_gateway)  # on instance a
    await assert_revoked(phone_room)  # on instance b
    told = await next_of(laptop_gateway, "session.revoked")
    assert (told["topic"], told["session_ids"], told["reason"]) == (
        user_topic,
        [phone_session],
        "revoked",
    )
    assert told["cursor"]
    await assert_open(laptop_gateway)  # the laptop's own session is untouched


async def test_signing_out_and_everywhere_close_the_sockets_they_end(
    live_factory: LiveFactory, sockets: Sockets
) -> None:
    a, b = await live_factory(), await live_factory()
    first = await register(a)
    second, third = await sign_in(b), await sign_in(a)
    first_ws, second_ws, third_ws = (
        await gateway(sockets, first),
        await gateway(sockets, second),
        await gateway(sockets, third),
    )

    assert (await first.request("DELETE", "/api/v1/sessions/current")).status_code == 204
    await assert_revoked(first_ws)
    await assert_open(second_ws)

    told = await subscribe(third_ws, f"user:{first.account['id']}")
    assert told["type"] == "subscribed"
    assert (await second.request("DELETE", "/api/v1/sessions")).status_code == 204
    event = await next_of(third_ws, "session.revoked")
    assert event["reason"] == "signed_out_everywhere"
    assert len(event["session_ids"]) == 2
    await assert_revoked(second_ws)
    await assert_revoked(third_ws)


async def test_a_new_password_closes_the_other_sessions_sockets_only(
    live_factory: LiveFactory, sockets: Sockets
) -> None:
    a, b = await live_factory(), await live_factory()
    laptop = await register(a)
    phone = await sign_in(b)
    laptop_ws, phone_ws = await gateway(sockets, laptop), await gateway(sockets, phone)
    changed = await laptop.request(
        "POST",
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 204
    await assert_revoked(phone_ws)
    await assert_open(laptop_ws)


async def test_a_ticket_of_a_session_revoked_since_opens_nothing(
    live: LiveMoot, sockets: Sockets
) -> None:
    device = await register(live)
    ticket = (await device.request("POST", "/api/v1/ws-ticket")).json()["ticket"]
    assert (await device.request("DELETE", "/api/v1/sessions/current")).status_code == 204
    ws = await sockets(f"{live.ws_url}/ws?ticket={ticket}")
    error = json.loads(await ws.recv())
    assert error["code"] == "session_expired"
    assert await closed_with(ws) == (4401, "session_expired")


async def test_an_expired_or_silently_deleted_session_ends_at_the_next_check(
    live_factory: LiveFactory, sockets: Sockets, db: asyncpg.Connection
) -> None:
    # Checked five times a second here (a minute by default); the sockets close within that.
    live = await live_factory(ws_session_check_seconds=0.2)
    expiring = await register(live)
    deleted = await sign_in(live)
    staying = await sign_in(live)
    expiring_ws = await gateway(sockets, expiring)
    deleted_ws = await gateway(sockets, deleted)
    staying_ws = await gateway(sockets, staying)

    expiring_id, deleted_id = await expiring.session_id(), await deleted.session_id()
    await db.execute(
        "UPDATE account_sessions SET expires_at = now() - interval '1 second' WHERE id = $1",
        uuid.UUID(expiring_id),
    )
    # Gone without an announcement (as if the one made was lost with a Redis outage).
    await db.execute("DELETE FROM account_sessions WHERE id = $1", uuid.UUID(deleted_id))
    await assert_revoked(expiring_ws)
    await assert_revoked(deleted_ws)
    await assert_open(staying_ws)


# -- the account's own topic ---------------------------------------------------------------


async def test_only_the_account_itself_may_follow_its_topic(
    live: LiveMoot, sockets: Sockets
) -> None:
    ada = await register(live)
    grace = await register(live, "grace@example.org", "Grace")
    anonymous = await live.guest()
    ada_ws = await gateway(sockets, ada)
    grace_ws = await gateway(sockets, grace)
    anonymous_ws = await sockets(f"{live.ws_url}/ws?token={anonymous.token}")
    await next_of(anonymous_ws, "ready")

    own = f"user:{ada.account['id']}"
    assert (await subscribe(ada_ws, own))["type"] == "subscribed"
    for ws in (grace_ws, anonymous_ws):
        refused = await subscribe(ws, own)
        assert (refused["type"], refused["code"]) == ("error", "topic_forbidden")
        await assert_open(ws)  # a refusal is an event; the socket lives on
    # An anonymous identity cannot follow "its own" topic either: it is no account.
    mine = await subscribe(anonymous_ws, f"user:{anonymous.participant_id}")
    assert mine["code"] == "topic_forbidden"
    assert (await subscribe(ada_ws, "user:not-a-uuid"))["code"] == "unknown_topic"
    await ada_ws.send(json.dumps({"type": "message.send", "topic": own, "content": "hi"}))
    assert (await next_of(ada_ws, "error"))["code"] == "invalid_frame"


async def test_the_accounts_other_devices_hear_it_renamed(
    live_factory: LiveFactory, sockets: Sockets
) -> None:
    a, b = await live_factory(), await live_factory()
    laptop = await register(a)
    phone = await sign_in(b)
    phone_ws = await gateway(sockets, phone)
    subscribed = await subscribe(phone_ws, f"user:{phone.account['id']}")
    renamed = await laptop.request(
        "PATCH",
        "/api/v1/me",
        json={"display_name": "Countess", "email": "ada@new.example", "current_password": PASSWORD},
    )
    assert renamed.status_code == 200
    event = await next_of(phone_ws, "account.updated")
    assert event["account"] == {
        "id": laptop.account["id"],
        "email": "ada@new.example",
        "display_name": "Countess",
    }
    # Kept for replay: a device that reconnects with its cursor hears it too.
    again = await gateway(sockets, phone.on(a))
    await again.send(
        json.dumps(
            {"type": "subscribe", "topic": subscribed["topic"], "since": subscribed["cursor"]}
        )
    )
    assert (await next_of(again, "account.updated"))["account"]["display_name"] == "Countess"


# -- a deleted account in meetings still going ----------------------------------------------


async def test_a_deleted_accounts_messages_and_seat_show_the_deleted_account_name(
    live_factory: LiveFactory, sockets: Sockets
) -> None:
    a, b = await live_factory(), await live_factory()
    ada = await register(a)
    host: Guest = await b.guest()
    room = await host.create_room(display_name="Host")
    code = room["code"]
    assert (await ada.request("POST", f"/api/v1/rooms/{code}/join", json={})).is_success
    for text in ("first", "second"):
        sent = await ada.request(
            "POST", f"/api/v1/rooms/{code}/chat/messages", json={"content": text}
        )
        assert sent.status_code == 201, sent.text
    said = await host.post(f"/api/v1/rooms/{code}/chat/messages", json={"content": "hello"})
    assert said.status_code == 201

    ada_ws = await gateway(sockets, ada)
    host_ws = await sockets(f"{b.ws_url}/ws/chat/{code}?token={host.token}")
    await next_of(host_ws, "ready")

    deleted = await ada.request("POST", "/api/v1/me/delete", json={"password": PASSWORD})
    assert deleted.status_code == 204
    await assert_revoked(ada_ws)

    relabelled = [await next_of(host_ws, "message.edited") for _ in range(2)]
    assert {e["message"]["content"] for e in relabelled} == {"first", "second"}
    for event in relabelled:
        assert event["message"]["display_name"] == "Deleted account"
        assert event["message"]["participant_id"] == ada.account["id"]
        assert event["message"]["edited_at"] is None  # nobody edited what was said
    seat = await next_of(host_ws, "participant.updated")
    assert seat["participant"]["participant_id"] == ada.account["id"]
    assert seat["participant"]["display_name"] == "Deleted account"

    history = (await host.get(f"/api/v1/rooms/{code}/chat/messages")).json()["items"]
    by_content = {m["content"]: m["display_name"] for m in history if m["message_type"] == "user"}
    assert by_content == {"first": "Deleted account", "second": "Deleted account", "hello": "Host"}
    participants = (await host.get(f"/api/v1/rooms/{code}/participants")).json()["items"]
    assert sorted(p["display_name"] for p in participants) == ["Deleted account", "Host"]

"""Channels across two `moot serve` processes over one PostgreSQL and one Redis: a message
posted through one instance reaches a gateway socket on the other, private channels hold on
both, read state is one whichever instance a device talks to, and history survives a
restart."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from tests.processes import wait_ready
from tests.test_chat_ws import next_of
from tests.test_scale_out import Instance, spawn, stop
from tests.test_spaces import PASSWORD, Person

if TYPE_CHECKING:
    from tests.conftest import TestStores

SETTINGS = {
    "MOOT_WORKER_EMBEDDED": "false",
    "MOOT_RATE_LIMIT_ACCOUNT_CREATE": "1000/minute",
    "MOOT_RATE_LIMIT_LOGIN_IP": "1000/minute",
    "MOOT_RATE_LIMIT_LOGIN_EMAIL": "1000/minute",
    "MOOT_RATE_LIMIT_CHANNEL_MESSAGE": "1000/second",
    "MOOT_PASSWORD_HASH_MEMORY_KIB": "1024",
    "MOOT_PASSWORD_HASH_ITERATIONS": "1",
}


@dataclass
class Pair:
    a: Instance
    b: Instance
    directory: Path
    stores: TestStores


@pytest.fixture(scope="module")
async def pair(stores: TestStores, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pair]:
    directory = tmp_path_factory.mktemp("channels-scale-out")
    a = spawn("serve", "api-a", directory, stores, **SETTINGS)
    b = spawn("serve", "api-b", directory, stores, **SETTINGS)
    started = Pair(a, b, directory, stores)
    try:
        for instance in (a, b):
            try:
                await wait_ready(instance.url)
            except AssertionError:
                raise AssertionError(instance.output()) from None
        yield started
    finally:
        for instance in (started.a, started.b):
            await asyncio.to_thread(stop, instance)


@pytest.fixture
async def clients(
    pair: Pair, db: asyncpg.Connection, redis: Redis
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """HTTP clients for instance A and instance B, on emptied tables and Redis."""
    async with (
        httpx.AsyncClient(base_url=pair.a.url, timeout=10) as a,
        httpx.AsyncClient(base_url=pair.b.url, timeout=10) as b,
    ):
        yield a, b


async def register(http: httpx.AsyncClient, name: str) -> tuple[Person, str]:
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.org"
    response = await http.post(
        "/api/v1/accounts", json={"email": email, "password": PASSWORD, "display_name": name}
    )
    assert response.status_code == 201, response.text
    http.cookies.clear()
    return Person(http, response.json()), email


def on(someone: Person, http: httpx.AsyncClient) -> Person:
    """The same session talking to the other instance."""
    return Person(
        http, {"account": {"id": someone.id}, "token": someone.headers["authorization"][7:]}
    )


async def sign_in(http: httpx.AsyncClient, email: str) -> Person:
    response = await http.post("/api/v1/sessions", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    http.cookies.clear()
    return Person(http, response.json())


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def space_of_three(
    http_a: httpx.AsyncClient,
) -> tuple[dict[str, Any], Person, Person, Person, str]:
    """A space (made on A) with its owner, a member and an outsider in it; the member's email."""
    owner, _ = await register(http_a, "Owner")
    member, email = await register(http_a, "Member")
    outsider, _ = await register(http_a, "Outsider")
    space = await ok(await owner.request("POST", "/api/v1/spaces", json={"name": "Team"}), 201)
    code = (
        await ok(await owner.request("POST", f"/api/v1/spaces/{space['id']}/invites", json={}), 201)
    )["code"]
    for someone in (member, outsider):
        await ok(await someone.request("POST", f"/api/v1/invites/{code}/accept"))
    return space, owner, member, outsider, email


async def test_a_message_posted_on_one_instance_reaches_a_socket_on_the_other(
    pair: Pair, clients: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    http_a, http_b = clients
    space, owner, member, outsider, email = await space_of_three(http_a)
    general = await ok(
        await owner.request(
            "POST", f"/api/v1/spaces/{space['id']}/channels", json={"name": "general"}
        ),
        201,
    )
    secret = await ok(
        await owner.request(
            "POST",
            f"/api/v1/spaces/{space['id']}/channels",
            json={"name": "secret", "private": True, "member_ids": [member.id]},
        ),
        201,
    )
    member_on_b = on(member, http_b)
    async with (
        connect(f"{pair.b.ws_url}/ws", additional_headers=member.headers) as on_b,
        connect(f"{pair.b.ws_url}/ws", additional_headers=outsider.headers) as outsider_on_b,
    ):
        await next_of(on_b, "ready")
        await next_of(outsider_on_b, "ready")
        for chan in (general, secret):
            await on_b.send(json.dumps({"type": "subscribe", "topic": f"channel:{chan['id']}"}))
            assert (await next_of(on_b, "subscribed"))["topic"] == f"channel:{chan['id']}"
        await outsider_on_b.send(
            json.dumps({"type": "subscribe", "topic": f"channel:{secret['id']}"})
        )
        assert (await next_of(outsider_on_b, "error"))["code"] == "channel_not_found"

        # Posted through A, heard on B, in order.
        first = await ok(
            await owner.request(
                "POST", f"/api/v1/channels/{general['id']}/messages", json={"content": "from A"}
            ),
            201,
        )
        hidden = await ok(
            await owner.request(
                "POST", f"/api/v1/channels/{secret['id']}/messages", json={"content": "psst"}
            ),
            201,
        )
        heard = [await next_of(on_b, "message.created") for _ in range(2)]
        assert [(h["topic"], h["message"]["id"]) for h in heard] == [
            (f"channel:{general['id']}", first["id"]),
            (f"channel:{secret['id']}", hidden["id"]),
        ]
        await ok(
            await owner.request(
                "PUT", f"/api/v1/channels/{general['id']}/messages/{first['id']}/reactions/🎉"
            )
        )
        assert (await next_of(on_b, "reaction.updated"))["count"] == 1
        # The outsider, subscribed to the public channel on B, hears that one only.
        await outsider_on_b.send(
            json.dumps({"type": "subscribe", "topic": f"channel:{general['id']}"})
        )
        await next_of(outsider_on_b, "subscribed")
        await ok(
            await owner.request(
                "POST", f"/api/v1/channels/{secret['id']}/messages", json={"content": "psst 2"}
            ),
            201,
        )
        await ok(
            await owner.request(
                "POST", f"/api/v1/channels/{general['id']}/messages", json={"content": "all"}
            ),
            201,
        )
        only = await next_of(outsider_on_b, "message.created")
        assert only["message"]["content"] == "all"

    # Two devices of the member, one on each instance, share one read state.
    phone_on_a = await sign_in(http_a, email)
    before = await ok(await member_on_b.request("GET", f"/api/v1/spaces/{space['id']}/channels"))
    assert {c["name"]: c["read"]["unread_count"] for c in before["items"]} == {
        "general": 2,
        "secret": 2,
    }
    await ok(
        await phone_on_a.request(
            "PUT", f"/api/v1/channels/{general['id']}/read", json={"message_id": first["id"]}
        )
    )
    after = await ok(await member_on_b.request("GET", f"/api/v1/spaces/{space['id']}/channels"))
    assert {c["name"]: c["read"]["unread_count"] for c in after["items"]} == {
        "general": 1,
        "secret": 2,
    }


async def test_history_survives_a_restart(
    pair: Pair, clients: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    http_a, _ = clients
    space, owner, member, _, _ = await space_of_three(http_a)
    chan = await ok(
        await owner.request(
            "POST", f"/api/v1/spaces/{space['id']}/channels", json={"name": "general"}
        ),
        201,
    )
    sent = [
        await ok(
            await member.request(
                "POST", f"/api/v1/channels/{chan['id']}/messages", json={"content": f"m{i}"}
            ),
            201,
        )
        for i in range(3)
    ]
    await asyncio.to_thread(stop, pair.a)
    pair.a = spawn("serve", "api-a2", pair.directory, pair.stores, **SETTINGS)
    await wait_ready(pair.a.url)
    async with httpx.AsyncClient(base_url=pair.a.url, timeout=10) as http:
        page = await ok(
            await on(member, http).request("GET", f"/api/v1/channels/{chan['id']}/messages")
        )
    assert [(m["id"], m["content"]) for m in page["items"]] == [
        (m["id"], m["content"]) for m in sent
    ]

"""Grants outlive no lost event: a participant removed (or a meeting ended) while Redis was
unreachable from the instance that made the change neither receives nor sends afterwards.

The outage is real: moot reaches Redis through a loopback link the test cuts (the REST call
commits in PostgreSQL, its event is never published), and the hub's own connection drops with
it and comes back when the link is restored."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest
from websockets.asyncio.client import connect

from tests.conftest import LiveMoot
from tests.network_link import NetworkLink
from tests.test_chat_ws import closed_with, frames_until, meeting, next_of, socket

if TYPE_CHECKING:
    from tests.conftest import TestStores

LiveFactory = Callable[..., Awaitable[LiveMoot]]


@pytest.fixture
async def link(stores: TestStores) -> AsyncIterator[NetworkLink]:
    async with NetworkLink(stores.redis_url) as opened:
        yield opened


# Rate limits and presence live in Redis too: off here, so the changes reach PostgreSQL.
OUTAGE_SETTINGS: dict[str, Any] = {"rate_limit_enabled": False, "presence_grace_seconds": 0}


@pytest.mark.parametrize(
    ("action", "code", "reason"),
    [("remove", 4403, "removed by the host"), ("end", 4410, "the meeting has ended")],
)
async def test_sockets_whose_grant_ended_during_an_outage_close_when_the_hub_reconnects(
    live_factory: LiveFactory, link: NetworkLink, action: str, code: int, reason: str
) -> None:
    live = await live_factory(redis_url=link.url, **OUTAGE_SETTINGS)
    room, host, guest = await meeting(live)
    async with (
        socket(live, room["code"], guest) as guest_ws,
        connect(f"{live.ws_url}/ws?token={guest.token}") as gateway,
    ):
        await next_of(guest_ws, "ready")
        await next_of(gateway, "ready")
        await gateway.send(json.dumps({"type": "subscribe", "topic": f"room:{room['id']}"}))
        await next_of(gateway, "subscribed")

        link.cut()
        if action == "remove":
            response = await host.delete(
                f"/api/v1/rooms/{room['code']}/participants/{guest.participant_id}"
            )
        else:
            response = await host.post(f"/api/v1/rooms/{room['code']}/end")
        assert response.status_code == 200, response.text  # committed; its event is lost
        link.restore()

        # Nothing but the end reaches the sockets: the room socket closes, the gateway
        # subscription ends and the gateway socket stays.
        assert await closed_with(guest_ws) == (code, reason)
        unsubscribed = json.loads(await gateway.recv())
        assert unsubscribed == {
            "type": "unsubscribed",
            "topic": f"room:{room['id']}",
            "code": code,
            "reason": reason,
        }
        await gateway.send(json.dumps({"type": "ping"}))
        assert json.loads(await gateway.recv()) == {"type": "pong"}


async def test_a_removed_participant_cannot_send_even_if_their_instance_never_heard(
    live_factory: LiveFactory, link: NetworkLink
) -> None:
    # Two instances: the host acts on one whose Redis link is cut, the guest's socket is on
    # the other, whose Redis is fine and which therefore never learns of the removal.
    acting = await live_factory(redis_url=link.url, **OUTAGE_SETTINGS)
    serving = await live_factory(**OUTAGE_SETTINGS)
    room, host, guest = await meeting(serving)
    async with (
        socket(serving, room["code"], host) as host_ws,
        socket(serving, room["code"], guest) as guest_ws,
    ):
        await next_of(host_ws, "ready")
        await next_of(guest_ws, "ready")
        link.cut()
        removed = await acting.http.delete(
            f"/api/v1/rooms/{room['code']}/participants/{guest.participant_id}",
            headers=host.headers,
        )
        assert removed.status_code == 200, removed.text

        await guest_ws.send(json.dumps({"type": "message.send", "content": "still here?"}))
        assert await closed_with(guest_ws) == (4403, "removed by the host")

        # The message went nowhere: the host's frames up to a marker of their own hold none.
        await host_ws.send(json.dumps({"type": "message.send", "content": "marker"}))
        seen = await frames_until(host_ws, "message.created")
        assert seen[-1]["message"]["content"] == "marker"
        assert [f["type"] for f in seen] == ["message.created"]
    history = await host.get(f"/api/v1/rooms/{room['code']}/chat/messages")
    assert "still here?" not in [m["content"] for m in history.json()["items"]]

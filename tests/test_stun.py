"""moot's STUN server: a Binding request gets the sender's address back, noise gets nothing."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aioice import stun

from moot.media.stun import StunResponder, start_stun_server
from tests.conftest import MootFactory


class Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answers: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.answers.put_nowait(data)


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, StunResponder]]:
    transport, responder = await start_stun_server("127.0.0.1", 0)
    try:
        yield transport.get_extra_info("sockname")[1], responder
    finally:
        transport.close()


async def test_a_binding_request_learns_its_own_address(
    server: tuple[int, StunResponder],
) -> None:
    port, responder = server
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(
        Client, remote_addr=("127.0.0.1", port), family=socket.AF_INET
    )
    try:
        transport.sendto(b"GET / HTTP/1.1\r\n\r\n")  # not STUN: no answer
        answer_only = stun.Message(stun.Method.ALLOCATE, stun.Class.REQUEST)  # not Binding
        transport.sendto(bytes(answer_only))
        request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
        request.add_fingerprint()
        transport.sendto(bytes(request))

        response = stun.parse_message(await asyncio.wait_for(client.answers.get(), 10))
        assert response.message_method == stun.Method.BINDING
        assert response.message_class == stun.Class.RESPONSE
        assert response.transaction_id == request.transaction_id
        assert response.attributes["XOR-MAPPED-ADDRESS"] == transport.get_extra_info("sockname")
        assert "FINGERPRINT" in response.attributes  # the request had one, so the answer does
        # The datagrams were handled in order: the noise before the request went unanswered.
        assert client.answers.empty() and responder.answered == 1
    finally:
        transport.close()


async def test_moot_serves_stun_on_its_own_port(moot_factory: MootFactory) -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # a UDP port free a moment ago, for the server to take
    await moot_factory(stun_port=port)

    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(
        Client, remote_addr=("127.0.0.1", port), family=socket.AF_INET
    )
    try:
        request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
        transport.sendto(bytes(request))
        response = stun.parse_message(await asyncio.wait_for(client.answers.get(), 10))
        assert response.transaction_id == request.transaction_id
        assert response.attributes["XOR-MAPPED-ADDRESS"] == transport.get_extra_info("sockname")
    finally:
        transport.close()


async def test_the_webrtc_config_lists_moots_own_stun_server_where_it_was_reached(
    moot_factory: MootFactory,
) -> None:
    # The port is only listed here, not bound: 0 for the server would turn the listing off.
    moot = await moot_factory(stun_port=34780)
    host = await moot.guest()
    room = await host.create_room(display_name="Ada")
    config = (await host.get(f"/api/v1/rooms/{room['code']}/media/webrtc")).json()
    reached = moot.http.base_url.host
    assert {"urls": [f"stun:{reached}:34780"]} in config["iceServers"]
    # No credentials on it: a STUN server needs none, and none are handed out.
    assert all("username" not in entry for entry in config["iceServers"])

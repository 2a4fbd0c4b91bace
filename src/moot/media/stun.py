"""moot's own STUN server: browsers learn their public address from moot itself, so calls
connect across NATs out of the box and no third party's STUN server learns who calls whom.

It answers Binding requests (RFC 8489) on a UDP port of its own (`MOOT_STUN_PORT`, 3478 by
default, 0 turns it off) and nothing else: no TURN, no relaying, no state kept between
datagrams. The message codec is aioice's, the one aiortc uses.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any, cast

import structlog
from aioice import stun

log = structlog.get_logger(__name__)


class StunResponder(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.answered = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        answer = binding_response(data, addr[0], addr[1])
        if answer is not None and self.transport is not None:
            self.transport.sendto(answer, addr)
            self.answered += 1


def binding_response(data: bytes, host: str, port: int) -> bytes | None:
    """The success response to a Binding request from (host, port); None for anything else
    (not STUN, another method, a response): a server stays silent rather than answer noise."""
    try:
        request = stun.parse_message(data)
    except ValueError:
        return None
    if request.message_method != stun.Method.BINDING or request.message_class != stun.Class.REQUEST:
        return None
    mapped = ipaddress.ip_address(host)
    if isinstance(mapped, ipaddress.IPv6Address) and mapped.ipv4_mapped is not None:
        host = str(mapped.ipv4_mapped)  # a dual-stack socket's view of an IPv4 client
    response = stun.Message(
        stun.Method.BINDING,
        stun.Class.RESPONSE,
        transaction_id=request.transaction_id,
        attributes={"XOR-MAPPED-ADDRESS": (host, port), "SOFTWARE": "moot"},
    )
    if "FINGERPRINT" in request.attributes:
        response.add_fingerprint()
    return bytes(response)


async def start_stun_server(
    host: str, port: int
) -> tuple[asyncio.DatagramTransport, StunResponder]:
    """Listen on (host, port)/udp. An unspecified host ("0.0.0.0", "::") listens on every
    address of that family; "::" takes IPv4 clients too where the OS allows."""
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    transport, protocol = await loop.create_datagram_endpoint(
        StunResponder, local_addr=(host, port), family=family
    )
    bound = transport.get_extra_info("sockname")
    log.info("stun_listening", port=bound[1])
    return transport, protocol

"""TURN health probe: a small STUN/TURN client of our own (RFC 8489 STUN, RFC 8656 TURN).

Per server it asks: does the port answer STUN (Binding)? Does it challenge an anonymous Allocate
with 401, grant one with our credentials, and free it again (Refresh, LIFETIME 0)?
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import os
import ssl
import struct
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qs

import msgspec
import structlog

from moot.infra.metrics import Metrics
from moot.media.ice import turn_credentials
from moot.settings import ConfigError, Settings

log = structlog.get_logger("moot.turn_probe")

PROBE_PARTICIPANT = "moot-probe"  # the name in the probe's TURN REST username

# STUN messages (RFC 8489 section 5): a 20-byte header, then type-length-value attributes.
HEADER = struct.Struct("!HHI12s")  # message type, length of the attributes, cookie, transaction
MAGIC_COOKIE = 0x2112A442
FINGERPRINT_XOR = 0x5354554E

# Methods and classes
BINDING, ALLOCATE, REFRESH = 0x001, 0x003, 0x004
REQUEST, INDICATION, SUCCESS, ERROR = 0b00, 0b01, 0b10, 0b11

# Attributes
USERNAME = 0x0006
MESSAGE_INTEGRITY = 0x0008
ERROR_CODE = 0x0009
LIFETIME = 0x000D
REALM = 0x0014
NONCE = 0x0015
XOR_RELAYED_ADDRESS = 0x0016
REQUESTED_TRANSPORT = 0x0019
XOR_MAPPED_ADDRESS = 0x0020
FINGERPRINT = 0x8028

UDP_PROTOCOL = 17  # REQUESTED-TRANSPORT: the relay forwards UDP, as WebRTC needs
UNAUTHORIZED, ALLOCATION_MISMATCH, STALE_NONCE = 401, 437, 438


@dataclass
class Message:
    method: int
    cls: int
    transaction_id: bytes = field(default_factory=lambda: os.urandom(12))
    attributes: list[tuple[int, bytes]] = field(default_factory=list)

    def get(self, kind: int) -> bytes | None:
        return next((value for key, value in self.attributes if key == kind), None)

    def text(self, kind: int) -> str | None:
        value = self.get(kind)
        return None if value is None else value.decode("utf-8", "replace")

    def error(self) -> tuple[int, str] | None:
        """ERROR-CODE as (code, reason phrase): class in byte 2, number in byte 3."""
        value = self.get(ERROR_CODE)
        if value is None or len(value) < 4:
            return None
        return (value[2] & 0x07) * 100 + value[3], value[4:].decode("utf-8", "replace")

    def address(self, kind: int) -> str | None:
        """An XOR-MAPPED-ADDRESS or XOR-RELAYED-ADDRESS as "ip:port" ("[ip]:port" for IPv6)."""
        value = self.get(kind)
        if value is None or len(value) < 8:
            return None
        family, port = struct.unpack_from("!xBH", value)
        mask = MAGIC_COOKIE.to_bytes(4, "big") + (self.transaction_id if family == 2 else b"")
        raw = value[4 : 4 + len(mask)]
        if family not in (1, 2) or len(raw) != len(mask):
            return None
        ip = ipaddress.ip_address(bytes(a ^ b for a, b in zip(raw, mask, strict=True)))
        port ^= MAGIC_COOKIE >> 16
        return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def message_type(method: int, cls: int) -> int:
    # The class bits sit between the method bits: M11..M7 C1 M6..M4 C0 M3..M0.
    return (
        ((method & 0xF80) << 2)
        | ((method & 0x070) << 1)
        | (method & 0x00F)
        | ((cls & 0b10) << 7)
        | ((cls & 0b01) << 4)
    )


def _padded(length: int) -> int:
    return (length + 3) & ~3


def _attribute(kind: int, value: bytes) -> bytes:
    return struct.pack("!HH", kind, len(value)) + value.ljust(_padded(len(value)), b"\0")


def _header(message: Message, length: int) -> bytes:
    kind = message_type(message.method, message.cls)
    return HEADER.pack(kind, length, MAGIC_COOKIE, message.transaction_id)


def encode(message: Message, *, key: bytes | None = None, fingerprint: bool = True) -> bytes:
    """The message's bytes, signed with MESSAGE-INTEGRITY when a key is given."""
    body = b"".join(_attribute(kind, value) for kind, value in message.attributes)
    if key is not None:
        # The HMAC covers a header whose length already counts MESSAGE-INTEGRITY (24 bytes).
        signed = _header(message, len(body) + 24) + body
        body += _attribute(MESSAGE_INTEGRITY, hmac.new(key, signed, hashlib.sha1).digest())
    if fingerprint:
        checked = _header(message, len(body) + 8) + body
        body += _attribute(FINGERPRINT, struct.pack("!I", zlib.crc32(checked) ^ FINGERPRINT_XOR))
    return _header(message, len(body)) + body


def _walk(data: bytes) -> Iterator[tuple[int, bytes, int]]:
    """(type, value, offset of the attribute) for each attribute after the header."""
    offset = HEADER.size
    while offset < len(data):
        if offset + 4 > len(data):
            raise ValueError("truncated attribute header")
        kind, length = struct.unpack_from("!HH", data, offset)
        end = offset + 4 + length
        if end > len(data):
            raise ValueError("attribute runs past the end of the message")
        yield kind, data[offset + 4 : end], offset
        offset += 4 + _padded(length)


def decode(data: bytes) -> Message:
    """Parse one STUN message; ValueError if it isn't one."""
    if len(data) < HEADER.size:
        raise ValueError("shorter than a STUN header")
    kind, length, cookie, transaction_id = HEADER.unpack_from(data)
    if kind & 0xC000 or cookie != MAGIC_COOKIE:
        raise ValueError("not a STUN message")
    if length % 4 or HEADER.size + length != len(data):
        raise ValueError("length field does not match the message")
    method = (kind & 0x000F) | ((kind >> 1) & 0x0070) | ((kind >> 2) & 0x0F80)
    cls = ((kind >> 7) & 0b10) | ((kind >> 4) & 0b01)
    attributes = [(key, value) for key, value, _ in _walk(data)]
    return Message(method, cls, transaction_id, attributes)


def _with_length(data: bytes, length: int) -> bytes:
    """The header of `data` with its length field replaced."""
    return data[:2] + struct.pack("!H", length) + data[4 : HEADER.size]


def verify_integrity(data: bytes, key: bytes) -> bool:
    """True if the message carries a MESSAGE-INTEGRITY that `key` produces."""
    for kind, value, offset in _walk(data):
        if kind == MESSAGE_INTEGRITY:
            signed = _with_length(data, offset + 24 - HEADER.size) + data[HEADER.size : offset]
            return hmac.compare_digest(hmac.new(key, signed, hashlib.sha1).digest(), value)
    return False


def verify_fingerprint(data: bytes) -> bool:
    """True if the message carries a correct FINGERPRINT."""
    for kind, value, offset in _walk(data):
        if kind == FINGERPRINT:
            checked = _with_length(data, offset + 8 - HEADER.size) + data[HEADER.size : offset]
            return struct.pack("!I", zlib.crc32(checked) ^ FINGERPRINT_XOR) == value
    return False


def long_term_key(username: str, realm: str, password: str) -> bytes:
    # MD5 is what RFC 8489 (section 9.2.2) prescribes for this key, and what coturn expects.
    text = f"{username}:{realm}:{password}".encode()
    return hashlib.md5(text, usedforsecurity=False).digest()


# Targets: which server, port and transport to probe, with which credentials.

Transport = Literal["udp", "tcp", "tls", "dtls"]


@dataclass(frozen=True)
class Target:
    url: str
    host: str
    port: int
    transport: Transport
    username: str
    password: str = field(repr=False)

    @classmethod
    def from_url(cls, url: str, username: str, password: str) -> Target:
        host, port, transport = parse_turn_url(url)
        return cls(url, host, port, transport, username, password)


def parse_turn_url(url: str) -> tuple[str, int, Transport]:
    """(host, port, transport) of `turn:host[:port][?transport=udp|tcp]` or `turns:...`."""
    scheme, _, rest = url.partition(":")
    if scheme not in ("turn", "turns"):
        raise ValueError(f"{url!r} is not a turn: or turns: URL")
    address, _, query = rest.partition("?")
    secure = scheme == "turns"
    transport = parse_qs(query).get("transport", ["tcp" if secure else "udp"])[-1].lower()
    if transport not in ("udp", "tcp"):
        raise ValueError(f"{url!r}: transport must be udp or tcp")
    if address.startswith("["):  # an IPv6 literal: [::1]:3478
        host, _, port_text = address[1:].partition("]")
        port_text = port_text.removeprefix(":")
    else:
        host, _, port_text = address.partition(":")
    if not host:
        raise ValueError(f"{url!r} has no host")
    if not port_text:
        port = 5349 if secure else 3478
    elif port_text.isdigit() and 0 < int(port_text) < 65536:
        port = int(port_text)
    else:
        raise ValueError(f"{url!r} has an invalid port")
    if secure:
        return host, port, "dtls" if transport == "udp" else "tls"
    return host, port, "udp" if transport == "udp" else "tcp"


def _targets(source: str, urls: Iterable[str], username: str, password: str) -> list[Target]:
    try:
        return [Target.from_url(url, username, password) for url in urls]
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def probe_targets(settings: Settings, extra_urls: Sequence[str] = ()) -> list[Target]:
    """The TURN servers to probe: every `turn_servers` URL and each extra URL with fresh TURN
    REST credentials, plus the fallback servers that come with a username and credential or a
    secret of their own."""
    ice = settings.ice()
    targets: list[Target] = []
    if extra_urls and not ice.turn_secret:
        raise ConfigError("--url needs the TURN secret: set MOOT_TURN_SECRET or pass --secret")
    if ice.turn_secret:
        username, password = turn_credentials(
            ice.turn_secret, PROBE_PARTICIPANT, ice.credential_ttl_seconds
        )
        targets += _targets("MOOT_TURN_SERVERS", ice.turn_urls, username, password)
        targets += _targets("--url", extra_urls, username, password)
    for fallback in ice.fallback:
        server = fallback.for_caller(PROBE_PARTICIPANT, ice.credential_ttl_seconds, None)
        if server.username and server.credential:
            urls = [url for url in server.urls if url.startswith(("turn:", "turns:"))]
            targets += _targets(
                "MOOT_TURN_FALLBACK_SERVERS", urls, server.username, server.credential
            )
    return targets


# Talking to a server: datagrams over UDP, self-delimiting messages over TCP and TLS.


class ProbeError(Exception):
    """A step of the probe failed; the message says which and why."""


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.inbox: asyncio.Queue[bytes | OSError] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.inbox.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        # On a connected socket an ICMP "port unreachable" arrives as ConnectionRefusedError.
        self.inbox.put_nowait(exc if isinstance(exc, OSError) else OSError(str(exc)))


class _UdpChannel:
    retransmit = True

    def __init__(self, transport: asyncio.DatagramTransport, protocol: _Datagrams) -> None:
        self.transport = transport
        self.protocol = protocol

    def send(self, data: bytes) -> None:
        self.transport.sendto(data)

    async def receive(self) -> bytes:
        item = await self.protocol.inbox.get()
        if isinstance(item, OSError):
            raise item
        return item

    async def close(self) -> None:
        self.transport.close()


class _StreamChannel:
    retransmit = False

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def receive(self) -> bytes:
        try:
            header = await self.reader.readexactly(HEADER.size)
            if header[4:8] != MAGIC_COOKIE.to_bytes(4, "big"):
                raise ProbeError("the server does not speak STUN")
            (length,) = struct.unpack_from("!H", header, 2)
            return header + await self.reader.readexactly(length)
        except asyncio.IncompleteReadError:
            raise ProbeError("the server closed the connection") from None

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), 1)


_Channel = _UdpChannel | _StreamChannel


async def _open(target: Target, step_timeout: float) -> _Channel:
    if target.transport == "udp":
        loop = asyncio.get_running_loop()
        transport, protocol = await asyncio.wait_for(
            loop.create_datagram_endpoint(_Datagrams, remote_addr=(target.host, target.port)),
            step_timeout,
        )
        return _UdpChannel(transport, protocol)
    # SSL_CERT_FILE / SSL_CERT_DIR are honoured, for servers with a private CA.
    tls = ssl.create_default_context() if target.transport == "tls" else None
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(target.host, target.port, ssl=tls), step_timeout
    )
    return _StreamChannel(reader, writer)


async def _answer(channel: _Channel, transaction_id: bytes) -> tuple[bytes, Message]:
    """The next response to our transaction; anything else that arrives is skipped."""
    while True:
        data = await channel.receive()
        try:
            message = decode(data)
        except ValueError:
            continue
        if message.transaction_id != transaction_id or message.cls not in (SUCCESS, ERROR):
            continue
        if message.get(FINGERPRINT) is not None and not verify_fingerprint(data):
            continue
        return data, message


async def _transact(
    channel: _Channel, request: Message, key: bytes | None, step_timeout: float, step: str
) -> tuple[bytes, Message]:
    """Send a request and wait for its response, retransmitting over UDP (RFC 8489 6.2.1)."""
    data = encode(request, key=key)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + step_timeout
    wait = 0.5 if channel.retransmit else step_timeout
    while True:
        channel.send(data)
        try:
            return await asyncio.wait_for(
                _answer(channel, request.transaction_id), min(wait, deadline - loop.time())
            )
        except TimeoutError:
            if loop.time() >= deadline - 0.001:
                raise ProbeError(f"{step}: no answer within {step_timeout:g}s") from None
            wait *= 2
        except OSError as exc:
            raise ProbeError(f"{step}: {_describe(exc)}") from None


def _describe(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (port closed)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    return exc.strerror or str(exc) or type(exc).__name__


# The probe itself.


class ProbeResult(msgspec.Struct, kw_only=True):
    url: str
    server: str
    port: int
    transport: str
    reachable: bool = False  # the server answered STUN on this port and transport
    auth_ok: bool = False  # it granted an allocation with our credentials
    passed: bool = False  # reachable, authenticated, and the allocation was freed again
    mapped_address: str | None = None
    relayed_address: str | None = None
    error: str | None = None
    duration_seconds: float = 0.0


def _refused(step: str, response: Message) -> str:
    code, reason = response.error() or (0, "error response without ERROR-CODE")
    return f"{step}: {code} {reason}".rstrip()


@dataclass
class _Session:
    """Long-term credentials once the server has named its REALM and NONCE."""

    channel: _Channel
    step_timeout: float
    username: bytes
    realm: bytes
    nonce: bytes
    key: bytes

    async def _send(
        self, method: int, attributes: list[tuple[int, bytes]], step: str
    ) -> tuple[bytes, Message]:
        credentials = [(USERNAME, self.username), (REALM, self.realm), (NONCE, self.nonce)]
        request = Message(method, REQUEST, attributes=[*attributes, *credentials])
        return await _transact(self.channel, request, self.key, self.step_timeout, step)

    async def send(
        self, method: int, attributes: list[tuple[int, bytes]], step: str
    ) -> tuple[bytes, Message]:
        """Send with our credentials; once more if the server answers with a new nonce."""
        data, response = await self._send(method, attributes, step)
        error, fresh = response.error(), response.get(NONCE)
        if error and error[0] in (UNAUTHORIZED, STALE_NONCE) and fresh and fresh != self.nonce:
            self.nonce = fresh
            data, response = await self._send(method, attributes, step)
        return data, response


async def _run(channel: _Channel, target: Target, step_timeout: float, result: ProbeResult) -> None:
    # (a) Binding: does the port answer STUN at all, and where do we appear to come from?
    binding_request = Message(BINDING, REQUEST)
    _, binding = await _transact(channel, binding_request, None, step_timeout, "Binding")
    result.reachable = True
    if binding.cls == SUCCESS:
        result.mapped_address = binding.address(XOR_MAPPED_ADDRESS)

    # (b) An anonymous Allocate must be challenged with 401, REALM and NONCE.
    relay = [(REQUESTED_TRANSPORT, struct.pack("!B3x", UDP_PROTOCOL))]
    anonymous = Message(ALLOCATE, REQUEST, attributes=relay)
    _, challenge = await _transact(channel, anonymous, None, step_timeout, "Allocate")
    error, realm, nonce = challenge.error(), challenge.get(REALM), challenge.get(NONCE)
    if error is None or error[0] != UNAUTHORIZED or realm is None or nonce is None:
        got = "a relay without credentials" if error is None else f"{error[0]} {error[1]}"
        raise ProbeError(f"Allocate: expected a 401 challenge with REALM and NONCE, got {got}")
    key = long_term_key(target.username, realm.decode("utf-8", "replace"), target.password)
    session = _Session(channel, step_timeout, target.username.encode(), realm, nonce, key)

    # (c) Allocate with USERNAME, REALM, NONCE and MESSAGE-INTEGRITY.
    data, allocated = await session.send(ALLOCATE, relay, "Allocate")
    if allocated.cls != SUCCESS:
        error = allocated.error()
        if error is not None and error[0] == ALLOCATION_MISMATCH:
            raise _Mismatch(_refused("Allocate with credentials", allocated))
        raise ProbeError(_refused("Allocate with credentials", allocated))
    if allocated.get(MESSAGE_INTEGRITY) is not None and not verify_integrity(data, key):
        raise ProbeError("Allocate: the success response fails MESSAGE-INTEGRITY")
    result.auth_ok = True
    result.relayed_address = allocated.address(XOR_RELAYED_ADDRESS)

    # (d) Refresh with LIFETIME 0 frees the relay now rather than when its lifetime ends.
    _, freed = await session.send(REFRESH, [(LIFETIME, struct.pack("!I", 0))], "Refresh")
    if freed.cls != SUCCESS:
        raise ProbeError(_refused("Refresh (freeing the allocation)", freed))


class _Mismatch(ProbeError):
    """437: the server still holds an allocation for our 5-tuple (the OS reused a local port
    an earlier allocation had). RFC 8656 lets the client try again from another 5-tuple."""


async def probe_target(target: Target, step_timeout: float) -> ProbeResult:
    """Probe one server; failures end up in the result, never raised."""
    started = time.monotonic()
    result = ProbeResult(
        url=target.url, server=target.host, port=target.port, transport=target.transport
    )
    try:
        if target.transport == "dtls":
            raise ProbeError("turns: over UDP (DTLS) is not supported by this probe")
        for attempt in (1, 2):
            try:
                channel = await _open(target, step_timeout)
            except TimeoutError:
                raise ProbeError(f"connect: no answer within {step_timeout:g}s") from None
            except OSError as exc:
                raise ProbeError(f"connect: {_describe(exc)}") from None
            try:
                await _run(channel, target, step_timeout, result)
                break
            except _Mismatch:
                if attempt == 2:
                    raise
            finally:
                await channel.close()
    except ProbeError as exc:
        result.error = str(exc)
    result.passed = result.reachable and result.auth_ok and result.error is None
    result.duration_seconds = round(time.monotonic() - started, 4)
    return result


async def probe(targets: Sequence[Target], step_timeout: float) -> list[ProbeResult]:
    """Probe every target at once; results in the targets' order."""
    runs = (probe_target(target, step_timeout) for target in targets)
    return list(await asyncio.gather(*runs))


def record(metrics: Metrics, results: Sequence[ProbeResult]) -> None:
    """Publish a probe run. Auth counters count only reachable servers: an unreachable one shows
    as turn_port_availability 0, not as an authentication failure."""
    for result in results:
        labels = (result.server, str(result.port), result.transport)
        metrics.turn_port_availability.labels(*labels).set(1 if result.reachable else 0)
        if result.reachable:
            counter = metrics.turn_auth_success if result.auth_ok else metrics.turn_auth_failure
            counter.labels(*labels).inc()
    metrics.turn_health_last_run_timestamp.set(time.time())
    # Servers are probed concurrently, so the run took as long as its slowest server.
    duration = max((result.duration_seconds for result in results), default=0.0)
    metrics.turn_health_duration_seconds.set(duration)


async def probe_forever(settings: Settings, metrics: Metrics) -> None:
    """Probe every `turn_probe_interval_seconds` until cancelled; failures are logged."""
    if settings.turn_probe_interval_seconds <= 0:
        return
    while True:
        try:
            results = await probe(probe_targets(settings), settings.turn_probe_timeout_seconds)
            record(metrics, results)
            for result in results:
                if not result.passed:
                    log.warning(
                        "turn_probe_failed",
                        server=result.server,
                        port=result.port,
                        transport=result.transport,
                        reachable=result.reachable,
                        auth_ok=result.auth_ok,
                        error=result.error,
                    )
        except Exception:
            log.exception("turn_probe_crashed")
        await asyncio.sleep(settings.turn_probe_interval_seconds)


def format_report(results: Sequence[ProbeResult]) -> str:
    """A plain-text table, one line per server, port and transport."""
    rows = [("SERVER", "PORT", "TRANSPORT", "REACHABLE", "AUTH", "RELAYED", "TIME", "ERROR")]
    for result in results:
        rows.append(
            (
                result.server,
                str(result.port),
                result.transport,
                "yes" if result.reachable else "no",
                "ok" if result.auth_ok else "failed" if result.reachable else "-",
                result.relayed_address or "-",
                f"{result.duration_seconds * 1000:.0f}ms",
                result.error or "",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    passed = sum(result.passed for result in results)
    lines.append(f"{passed}/{len(results)} passed")
    return "\n".join(line.rstrip() for line in lines)

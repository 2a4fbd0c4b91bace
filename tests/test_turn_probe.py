"""`moot turn-probe` and the periodic TURN health check, against a real coturn on loopback.

The STUN codec is checked against the published RFC 5769 test vectors.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from moot.infra.metrics import Metrics
from moot.media.ice import turn_credentials
from moot.media.turn_probe import (
    ALLOCATE,
    BINDING,
    ERROR,
    ERROR_CODE,
    FINGERPRINT,
    MESSAGE_INTEGRITY,
    NONCE,
    REALM,
    REQUEST,
    SUCCESS,
    USERNAME,
    XOR_MAPPED_ADDRESS,
    Message,
    Target,
    decode,
    encode,
    long_term_key,
    message_type,
    parse_turn_url,
    probe,
    probe_forever,
    probe_target,
    probe_targets,
    record,
    verify_fingerprint,
    verify_integrity,
)
from moot.settings import ConfigError, Settings
from tests.conftest import MootFactory

TURNSERVER = "/usr/bin/turnserver"
SECRET = "coturn-static-auth-secret"
REALM_NAME = "moot.test"

# RFC 5769, section 2: the sample messages' bytes as published, and their parameters.
RFC5769_PASSWORD = "VOkJxbRl1RmTxUk/WvJxBt"
RFC5769_REQUEST = bytes.fromhex(
    "00010058 2112a442 b7e7a701 bc34d686 fa87dfae"
    "80220010 5354554e 20746573 7420636c 69656e74"  # SOFTWARE "STUN test client"
    "00240004 6e0001ff"  # PRIORITY
    "80290008 932ff9b1 51263b36"  # ICE-CONTROLLED
    "00060009 6576746a 3a683676 59202020"  # USERNAME "evtj:h6vY", padded with spaces
    "00080014 9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2"  # MESSAGE-INTEGRITY
    "80280004 e57a3bcf"  # FINGERPRINT
)
RFC5769_IPV4_RESPONSE = bytes.fromhex(
    "0101003c 2112a442 b7e7a701 bc34d686 fa87dfae"
    "8022000b 74657374 20766563 746f7220"  # SOFTWARE "test vector"
    "00200008 0001a147 e112a643"  # XOR-MAPPED-ADDRESS 192.0.2.1:32853
    "00080014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7"
    "80280004 c07d4c96"
)
RFC5769_IPV6_RESPONSE = bytes.fromhex(
    "01010048 2112a442 b7e7a701 bc34d686 fa87dfae"
    "8022000b 74657374 20766563 746f7220"
    "00200014 0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9"  # XOR-MAPPED-ADDRESS, IPv6
    "00080014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41"
    "80280004 c8fb0b4c"
)
RFC5769_LONG_TERM_REQUEST = bytes.fromhex(
    "00010060 2112a442 78ad3433 c6ad72c0 29da412e"
    "00060012 e3839ee3 8388e383 aae38383 e382afe3 82b90000"  # USERNAME
    "0015001c 662f2f34 39396b39 35346436 4f4c3334 6f4c3946 53547679 36347341"  # NONCE
    "0014000b 6578616d 706c652e 6f726700"  # REALM "example.org"
    "00080014 f6702465 6dd64a3e 02b8e071 2e85c9a2 8ca89666"  # MESSAGE-INTEGRITY
)


# --- The codec ------------------------------------------------------------------------------


def test_message_types_interleave_method_and_class_bits() -> None:
    assert message_type(BINDING, REQUEST) == 0x0001
    assert message_type(BINDING, SUCCESS) == 0x0101
    assert message_type(ALLOCATE, ERROR) == 0x0113
    assert message_type(0xFFF, 0b11) == 0x3FFF


def test_a_message_survives_encoding_and_decoding() -> None:
    sent = Message(ALLOCATE, ERROR, attributes=[(USERNAME, b"alice"), (REALM, b"moot.test")])
    key = long_term_key("alice", "moot.test", "secret")
    data = encode(sent, key=key)

    assert len(data) % 4 == 0
    received = decode(data)
    assert (received.method, received.cls) == (ALLOCATE, ERROR)
    assert received.transaction_id == sent.transaction_id
    assert received.get(USERNAME) == b"alice"  # padding stripped
    assert received.text(REALM) == "moot.test"
    assert [kind for kind, _ in received.attributes][-2:] == [MESSAGE_INTEGRITY, FINGERPRINT]
    assert verify_integrity(data, key)
    assert not verify_integrity(data, long_term_key("alice", "moot.test", "wrong"))
    assert verify_fingerprint(data)


def test_error_code_decodes_class_and_number() -> None:
    response = Message(ALLOCATE, ERROR, attributes=[(ERROR_CODE, b"\0\0\x04\x26Stale Nonce")])
    assert decode(encode(response)).error() == (438, "Stale Nonce")


def test_decode_rejects_what_is_not_stun() -> None:
    with pytest.raises(ValueError, match="not a STUN message"):
        decode(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    with pytest.raises(ValueError, match="length"):
        decode(RFC5769_REQUEST[:-4])


def test_rfc5769_sample_request_verifies_short_term_integrity_and_fingerprint() -> None:
    message = decode(RFC5769_REQUEST)

    assert (message.method, message.cls) == (BINDING, REQUEST)
    assert message.transaction_id == bytes.fromhex("b7e7a701bc34d686fa87dfae")
    assert message.text(USERNAME) == "evtj:h6vY"
    # Short-term credentials: the key is the password itself.
    assert verify_integrity(RFC5769_REQUEST, RFC5769_PASSWORD.encode())
    assert verify_fingerprint(RFC5769_REQUEST)


def test_a_changed_byte_breaks_integrity_and_fingerprint() -> None:
    tampered = bytearray(RFC5769_REQUEST)
    tampered[24] ^= 0x01  # inside SOFTWARE
    assert not verify_integrity(bytes(tampered), RFC5769_PASSWORD.encode())
    assert not verify_fingerprint(bytes(tampered))


@pytest.mark.parametrize(
    ("data", "address"),
    [
        (RFC5769_IPV4_RESPONSE, "192.0.2.1:32853"),
        (RFC5769_IPV6_RESPONSE, "[2001:db8:1234:5678:11:2233:4455:6677]:32853"),
    ],
)
def test_rfc5769_responses_decode_their_xor_mapped_address(data: bytes, address: str) -> None:
    message = decode(data)
    assert (message.method, message.cls) == (BINDING, SUCCESS)
    assert message.address(XOR_MAPPED_ADDRESS) == address
    assert verify_integrity(data, RFC5769_PASSWORD.encode())
    assert verify_fingerprint(data)


def test_rfc5769_long_term_request_is_encoded_byte_for_byte() -> None:
    username = "\u30de\u30c8\u30ea\u30c3\u30af\u30b9"  # as published, unaffected by SASLprep
    key = long_term_key(username, "example.org", "TheMatrIX")  # the password after SASLprep
    text = f"{username}:example.org:TheMatrIX".encode()
    assert key == hashlib.md5(text, usedforsecurity=False).digest()
    request = Message(
        BINDING,
        REQUEST,
        transaction_id=bytes.fromhex("78ad3433c6ad72c029da412e"),
        attributes=[
            (USERNAME, username.encode()),
            (NONCE, b"f//499k954d6OL34oL9FSTvy64sA"),
            (REALM, b"example.org"),
        ],
    )
    assert encode(request, key=key, fingerprint=False) == RFC5769_LONG_TERM_REQUEST
    assert verify_integrity(RFC5769_LONG_TERM_REQUEST, key)


# --- Targets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("turn:turn.example.org", ("turn.example.org", 3478, "udp")),
        ("turn:turn.example.org:3479?transport=tcp", ("turn.example.org", 3479, "tcp")),
        ("turn:203.0.113.5:80?transport=UDP", ("203.0.113.5", 80, "udp")),
        ("turns:turn.example.org", ("turn.example.org", 5349, "tls")),
        ("turns:turn.example.org:443?transport=tcp", ("turn.example.org", 443, "tls")),
        ("turns:turn.example.org?transport=udp", ("turn.example.org", 5349, "dtls")),
        ("turn:[2001:db8::1]:3478?transport=tcp", ("2001:db8::1", 3478, "tcp")),
    ],
)
def test_turn_urls_name_host_port_and_transport(url: str, expected: tuple[str, int, str]) -> None:
    assert parse_turn_url(url) == expected


@pytest.mark.parametrize(
    "url", ["stun:stun.example.org", "turn:", "turn:h:99999", "turn:h:x", "turn:h?transport=sctp"]
)
def test_malformed_turn_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(url))):
        parse_turn_url(url)


def test_targets_come_from_turn_servers_and_credentialed_fallbacks() -> None:
    fallback = [
        {
            "urls": ["turn:fallback.example.org?transport=tcp", "stun:stun.example.org"],
            "username": "static-user",
            "credential": "static-pass",
        },
        {"urls": ["turn:anonymous.example.org"]},  # no credentials: nothing to probe with
    ]
    settings = Settings(
        turn_servers="turn:a.example.org, turns:b.example.org",
        turn_secret=SECRET,
        turn_fallback_servers=json.dumps(fallback),
    )
    targets = probe_targets(settings, ["turn:c.example.org:3480"])

    assert [(t.host, t.port, t.transport) for t in targets] == [
        ("a.example.org", 3478, "udp"),
        ("b.example.org", 5349, "tls"),
        ("c.example.org", 3480, "udp"),
        ("fallback.example.org", 3478, "tcp"),
    ]
    expiry, name = targets[0].username.split(":")
    assert name == "moot-probe"
    assert int(expiry) > time.time()
    assert targets[-1].username == "static-user"
    assert targets[-1].password == "static-pass"
    assert "static-pass" not in repr(targets[-1])


def test_ad_hoc_urls_need_the_secret() -> None:
    with pytest.raises(ConfigError, match="--secret"):
        probe_targets(Settings(), ["turn:a.example.org"])
    with pytest.raises(ConfigError, match="--url"):
        probe_targets(Settings(turn_secret=SECRET), ["turn:a.example.org:0"])


# --- A real coturn --------------------------------------------------------------------------


def free_port() -> int:
    """A port free for both TCP and UDP on loopback."""
    while True:
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", 0))
            port: int = tcp.getsockname()[1]
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def answers_stun(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        sock.connect(("127.0.0.1", port))
        try:
            sock.send(encode(Message(BINDING, REQUEST)))
            return decode(sock.recv(2048)).cls == SUCCESS
        except OSError:
            return False


def accepts_tcp(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def self_signed_certificate(directory: Path) -> tuple[Path, Path] | None:
    """A certificate for 127.0.0.1 made with the openssl tool, or None without it."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass(frozen=True)
class Coturn:
    port: int
    tls_port: int | None  # None when openssl was not there to make a certificate
    certificate: Path | None

    def url(self, transport: str = "udp") -> str:
        return f"turn:127.0.0.1:{self.port}?transport={transport}"

    def target(
        self,
        transport: str = "udp",
        *,
        secret: str = SECRET,
        ttl: int = 600,
        now: float | None = None,
    ) -> Target:
        url = self.url(transport)
        if transport == "tls":
            url = f"turns:127.0.0.1:{self.tls_port}?transport=tcp"
        return Target.from_url(url, *turn_credentials(secret, "moot-probe", ttl, now))


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    if not Path(TURNSERVER).exists():
        pytest.skip(f"coturn is not installed ({TURNSERVER} missing): apt-get install coturn")
    directory = tmp_path_factory.mktemp("coturn")
    port = free_port()
    relay = free_port() // 2 * 2  # coturn wants an even relay range start
    command = [
        TURNSERVER,
        "-n",
        "--listening-ip=127.0.0.1",
        f"--listening-port={port}",
        "--relay-ip=127.0.0.1",
        f"--min-port={relay}",
        f"--max-port={relay + 50}",
        "--use-auth-secret",
        f"--static-auth-secret={SECRET}",
        f"--realm={REALM_NAME}",
        "--no-dtls",
        "--no-cli",
        "--allow-loopback-peers",
        "--no-multicast-peers",
        f"--userdb={directory / 'turndb'}",
        f"--pidfile={directory / 'turnserver.pid'}",
        "--log-file=stdout",
        "--simple-log",
        "--verbose",
    ]
    certificate = self_signed_certificate(directory)
    tls_port = None
    if certificate is None:
        command.append("--no-tls")
    else:
        tls_port = free_port()
        command += [
            f"--tls-listening-port={tls_port}",
            f"--cert={certificate[0]}",
            f"--pkey={certificate[1]}",
        ]
    log = directory / "turnserver.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=directory)
    try:
        deadline = time.monotonic() + 15
        while not (
            answers_stun(port) and accepts_tcp(port) and (tls_port is None or accepts_tcp(tls_port))
        ):
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "coturn did not start:\n" + log.read_text()
            time.sleep(0.05)
        yield Coturn(port, tls_port, certificate[0] if certificate else None)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_the_right_secret_allocates_a_relay_and_frees_it(
    coturn: Coturn, transport: str
) -> None:
    result = await probe_target(coturn.target(transport), 3)

    assert result.error is None
    assert result.reachable and result.auth_ok and result.passed
    assert (result.server, result.port, result.transport) == ("127.0.0.1", coturn.port, transport)
    assert result.mapped_address is not None
    assert result.mapped_address.startswith("127.0.0.1:")
    assert result.relayed_address is not None
    assert result.relayed_address.startswith("127.0.0.1:")
    assert 0 < result.duration_seconds < 3


async def test_turns_probes_over_tls(coturn: Coturn, monkeypatch: pytest.MonkeyPatch) -> None:
    if coturn.certificate is None:
        pytest.skip("the openssl tool is needed to make coturn a TLS certificate")
    monkeypatch.setenv("SSL_CERT_FILE", str(coturn.certificate))

    result = await probe_target(coturn.target("tls"), 3)

    assert result.error is None
    assert result.transport == "tls"
    assert result.passed
    assert result.relayed_address is not None
    assert result.relayed_address.startswith("127.0.0.1:")


async def test_an_untrusted_tls_certificate_fails_the_probe(coturn: Coturn) -> None:
    if coturn.certificate is None:
        pytest.skip("the openssl tool is needed to make coturn a TLS certificate")

    result = await probe_target(coturn.target("tls"), 3)

    assert not result.reachable and not result.passed
    assert result.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in result.error


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_a_wrong_secret_is_an_auth_failure_not_a_crash(
    coturn: Coturn, transport: str
) -> None:
    result = await probe_target(coturn.target(transport, secret="not-the-secret"), 3)

    assert result.reachable
    assert not result.auth_ok and not result.passed
    assert result.relayed_address is None
    assert result.error == "Allocate with credentials: 401 Unauthorized"


async def test_an_expired_credential_is_refused(coturn: Coturn) -> None:
    an_hour_ago = time.time() - 3600
    result = await probe_target(coturn.target(ttl=60, now=an_hour_ago), 3)

    assert result.reachable
    assert not result.auth_ok
    assert result.error is not None
    assert "401" in result.error


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_a_closed_port_is_unavailable(transport: str) -> None:
    port = free_port()
    target = Target.from_url(f"turn:127.0.0.1:{port}?transport={transport}", "u", "p")

    result = await probe_target(target, 1)

    assert not result.reachable and not result.auth_ok and not result.passed
    assert result.error is not None
    assert "connection refused" in result.error


async def test_dtls_is_reported_as_unsupported() -> None:
    target = Target.from_url("turns:127.0.0.1:5349?transport=udp", "u", "p")
    result = await probe_target(target, 1)
    assert not result.passed
    assert result.error == "turns: over UDP (DTLS) is not supported by this probe"


async def test_fallback_servers_are_probed_with_their_static_credentials(coturn: Coturn) -> None:
    username, credential = turn_credentials(SECRET, "fallback", 600)
    fallback = [{"urls": [coturn.url("tcp")], "username": username, "credential": credential}]
    settings = Settings(turn_fallback_servers=json.dumps(fallback))

    [result] = await probe(probe_targets(settings), 3)

    assert result.passed, result.error


async def test_fallback_servers_with_a_secret_are_probed_with_minted_credentials(
    coturn: Coturn,
) -> None:
    fallback = [{"urls": [coturn.url("udp")], "secret": SECRET}]
    settings = Settings(turn_fallback_servers=json.dumps(fallback))

    [target] = probe_targets(settings)
    [result] = await probe([target], 3)

    assert target.username.endswith(":moot-probe")
    assert result.passed, result.error


def labels(port: int, transport: str) -> str:
    """A TURN metric's labels as prometheus_client renders them (sorted by name)."""
    return f'{{port="{port}",server="127.0.0.1",transport="{transport}"}}'


def metric_lines(text: str, name: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name)
    }


async def test_record_publishes_availability_auth_and_run_time(coturn: Coturn) -> None:
    closed = Target.from_url(f"turn:127.0.0.1:{free_port()}", "u", "p")
    results = await probe([coturn.target("udp"), coturn.target("tcp", secret="wrong"), closed], 3)
    metrics = Metrics()

    before = time.time()
    record(metrics, results)
    text = (await metrics.render()).decode()

    assert f"turn_port_availability{labels(coturn.port, 'udp')} 1.0" in text
    assert f"turn_port_availability{labels(coturn.port, 'tcp')} 1.0" in text
    assert f"turn_port_availability{labels(closed.port, 'udp')} 0.0" in text
    assert f"turn_auth_success_total{labels(coturn.port, 'udp')} 1.0" in text
    assert f"turn_auth_failure_total{labels(coturn.port, 'tcp')} 1.0" in text
    # An unreachable port counts as unavailable, not as an authentication failure.
    assert f'port="{closed.port}"' not in "".join(metric_lines(text, "turn_auth_"))
    [timestamp] = metric_lines(text, "turn_health_last_run_timestamp ").values()
    assert before <= timestamp <= time.time()
    [duration] = metric_lines(text, "turn_health_duration_seconds ").values()
    assert duration == max(result.duration_seconds for result in results)


async def test_probe_forever_keeps_the_metrics_fresh_and_survives_failures(
    coturn: Coturn,
) -> None:
    closed = Target.from_url(f"turn:127.0.0.1:{free_port()}", "u", "p")
    settings = Settings(
        turn_servers=f"{coturn.url('udp')},{closed.url}",
        turn_secret=SECRET,
        turn_probe_interval_seconds=1,
        turn_probe_timeout_seconds=1,
    )
    metrics = Metrics()
    task = asyncio.create_task(probe_forever(settings, metrics))
    try:
        deadline = time.monotonic() + 10
        runs: set[float] = set()
        while len(runs) < 2:  # a second run: it went round the loop after a failing server
            assert not task.done(), task
            assert time.monotonic() < deadline, "probe_forever did not run twice"
            await asyncio.sleep(0.1)
            text = (await metrics.render()).decode()
            finished = metric_lines(text, "turn_health_last_run_timestamp ").values()
            runs.update(run for run in finished if run > 0)
        assert f"turn_port_availability{labels(coturn.port, 'udp')} 1.0" in text
        assert f"turn_port_availability{labels(closed.port, 'udp')} 0.0" in text
        assert "turn_auth_success_total" in text
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_probe_forever_returns_at_once_when_the_interval_is_zero() -> None:
    settings = Settings(turn_servers="turn:127.0.0.1", turn_secret=SECRET)
    await asyncio.wait_for(probe_forever(settings, Metrics()), 1)


# --- The command line -----------------------------------------------------------------------


def turn_probe(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`moot turn-probe` in a directory without .env, with only the given MOOT_ variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MOOT_")}
    return subprocess.run(
        [sys.executable, "-m", "moot.cli", "turn-probe", *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_exits_0_when_every_server_passes(coturn: Coturn, tmp_path: Path) -> None:
    servers = f"{coturn.url('udp')},{coturn.url('tcp')}"
    done = turn_probe(tmp_path, "--json", MOOT_TURN_SERVERS=servers, MOOT_TURN_SECRET=SECRET)

    assert done.returncode == 0, done.stderr
    report = msgspec.json.decode(done.stdout)
    assert report["passed"] is True
    assert [(r["transport"], r["auth_ok"]) for r in report["results"]] == [
        ("udp", True),
        ("tcp", True),
    ]
    assert SECRET not in done.stdout + done.stderr


def test_cli_prints_a_table_by_default(coturn: Coturn, tmp_path: Path) -> None:
    done = turn_probe(tmp_path, MOOT_TURN_SERVERS=coturn.url("tcp"), MOOT_TURN_SECRET=SECRET)

    assert done.returncode == 0, done.stderr
    header, row, summary = done.stdout.splitlines()
    assert header.split() == [
        "SERVER",
        "PORT",
        "TRANSPORT",
        "REACHABLE",
        "AUTH",
        "RELAYED",
        "TIME",
        "ERROR",
    ]
    assert row.split()[:5] == ["127.0.0.1", str(coturn.port), "tcp", "yes", "ok"]
    assert summary == "1/1 passed"


def test_cli_exits_1_on_a_wrong_secret(coturn: Coturn, tmp_path: Path) -> None:
    done = turn_probe(
        tmp_path, "--json", MOOT_TURN_SERVERS=coturn.url(), MOOT_TURN_SECRET="not-the-secret"
    )

    assert done.returncode == 1, done.stderr
    [result] = msgspec.json.decode(done.stdout)["results"]
    assert result["reachable"] is True
    assert result["auth_ok"] is False
    assert "401" in result["error"]


def test_cli_exits_1_on_a_closed_port(tmp_path: Path) -> None:
    done = turn_probe(
        tmp_path,
        "--json",
        "--timeout",
        "1",
        "--url",
        f"turn:127.0.0.1:{free_port()}",
        MOOT_TURN_SECRET=SECRET,
    )

    assert done.returncode == 1, done.stderr
    [result] = msgspec.json.decode(done.stdout)["results"]
    assert result["reachable"] is False


def test_cli_probes_ad_hoc_urls_with_the_secret_flag(coturn: Coturn, tmp_path: Path) -> None:
    done = turn_probe(
        tmp_path, "--url", coturn.url("udp"), "--url", coturn.url("tcp"), "--secret", SECRET
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "2/2 passed"


def test_cli_exits_2_without_targets(tmp_path: Path) -> None:
    done = turn_probe(tmp_path)

    assert done.returncode == 2
    assert "no TURN servers to probe" in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--url", "turn:h"], {}, "--url needs the TURN secret"),
        ([], {"MOOT_TURN_SERVERS": "turn:h:nope", "MOOT_TURN_SECRET": SECRET}, "MOOT_TURN_SERVERS"),
        (
            ["--timeout", "0"],
            {"MOOT_TURN_SERVERS": "turn:h", "MOOT_TURN_SECRET": SECRET},
            "MOOT_TURN_PROBE_TIMEOUT_SECONDS",
        ),
        (["--interval", "0", "--secret", SECRET, "--url", "turn:h"], {}, "--interval"),
    ],
)
def test_cli_exits_2_on_a_config_error(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    done = turn_probe(tmp_path, *args, **env)

    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr


def test_cli_keeps_probing_with_an_interval(coturn: Coturn, tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MOOT_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "moot.cli",
            "turn-probe",
            "--json",
            "--interval",
            "0.2",
            "--url",
            coturn.url("tcp"),
            "--secret",
            SECRET,
        ],
        cwd=tmp_path,
        env=clean,
        stdout=subprocess.PIPE,
        text=True,
    )
    reports: list[dict[str, object]] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        while len(reports) < 3:
            ready, _, _ = select.select([process.stdout], [], [], deadline - time.monotonic())
            assert ready, f"only {len(reports)} report(s) within 30s"
            reports.append(json.loads(process.stdout.readline()))
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert all(report["passed"] for report in reports)


# --- Through the running app ----------------------------------------------------------------


async def test_browser_ice_credentials_from_the_api_allocate_on_coturn(
    coturn: Coturn, moot_factory: MootFactory
) -> None:
    moot = await moot_factory(
        turn_servers=f"{coturn.url('udp')},{coturn.url('tcp')}",
        turn_secret=SECRET,
        stun_servers=f"stun:127.0.0.1:{coturn.port}",
    )
    guest = await moot.guest()
    room = await guest.create_room()
    config = (await guest.get(f"/api/v1/rooms/{room['code']}/media/webrtc")).json()
    stun, turn = config["iceServers"]
    assert stun == {"urls": [f"stun:127.0.0.1:{coturn.port}"]}
    assert turn["username"].endswith(f":{guest.participant_id}")

    for url in turn["urls"]:
        result = await probe_target(Target.from_url(url, turn["username"], turn["credential"]), 3)
        assert result.passed, result.error
    forged = Target.from_url(turn["urls"][0], turn["username"], turn["credential"][:-4] + "AAA=")
    result = await probe_target(forged, 3)
    assert result.reachable and not result.auth_ok


async def test_the_app_probes_on_an_interval_and_exports_the_metrics(
    coturn: Coturn, moot_factory: MootFactory
) -> None:
    moot = await moot_factory(
        turn_servers=coturn.url("udp"), turn_secret=SECRET, turn_probe_interval_seconds=60
    )
    deadline = time.monotonic() + 10
    while True:
        text = (await moot.http.get("/metrics")).text
        if "turn_port_availability{" in text:
            break
        assert time.monotonic() < deadline, "the app's probe did not run"
        await asyncio.sleep(0.1)
    key = labels(coturn.port, "udp")
    assert metric_lines(text, "turn_port_availability") == {f"turn_port_availability{key}": 1.0}
    assert metric_lines(text, "turn_auth_success_total") == {f"turn_auth_success_total{key}": 1.0}
    assert metric_lines(text, "turn_health_last_run_timestamp")

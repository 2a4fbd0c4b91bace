"""Start and stop Debian's `prosody` as the peer of the chat benchmarks.

Prosody's multi-user chat (MUC) is the chat engine behind Jitsi Meet. The bench runs it as a
child process of its own, as the current user, with a config written to a temporary
directory: one virtual host with anonymous login, a MUC component, XMPP over WebSocket on a
loopback port and nothing else (no TCP client port, no server-to-server, no TLS: loopback
only, as moot's side of the bench). Its data, pid file and log stay in that directory.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

DOMAIN = "localhost"
MUC_DOMAIN = f"muc.{DOMAIN}"
# The fan-out rooms: the same MUC, except that a participant's joining and leaving is not
# announced to the rest of the room. Only the set-up and teardown change (500 sequential joins
# announced to everyone took Prosody more than 3 minutes of CPU here); the messages measured
# are broadcast exactly as in any room. moot's fan-out set-up announces nothing to the sockets
# either: its participants join over HTTP before their sockets open.
FANOUT_DOMAIN = f"fanout.{DOMAIN}"

# Prosody reads Lua. Log level "warn", as moot runs at "warning": per-connection info lines
# would cost the peer CPU that moot does not spend.
_CONFIG = """\
-- Written by moot's bench/prosody.py for one benchmark run.
run_as_root = true  -- run as whoever starts the bench (in a container that may be root)
data_path = "{dir}/data"
pidfile = "{dir}/prosody.pid"
certificates = "{dir}/certs"
log = {{ {{ levels = {{ min = "warn" }}, to = "file", filename = "{dir}/prosody.log" }} }}

modules_enabled = {{ "saslauth", "websocket", "disco", "posix" }}
modules_disabled = {{ "s2s", "s2s_auth_certs", "offline" }}

interfaces = {{ "127.0.0.1" }}
c2s_ports = {{}}
c2s_direct_tls_ports = {{}}
legacy_ssl_ports = {{}}
s2s_ports = {{}}
https_ports = {{}}
http_ports = {{ {port} }}
http_interfaces = {{ "127.0.0.1" }}
c2s_require_encryption = false  -- loopback only
consider_websocket_secure = true

VirtualHost "{domain}"
    authentication = "anonymous"

Component "{muc}" "muc"
    muc_room_locking = false  -- the first occupant's presence opens the room, as in Jitsi Meet
    muc_tombstones = false

Component "{fanout}" "muc"
    muc_room_locking = false
    muc_tombstones = false
    muc_room_default_presence_broadcast = {{ moderator = true }}
"""


def installed() -> str | None:
    """The path of the `prosody` executable, or None."""
    return shutil.which("prosody")


class ProsodyProcess:
    """`prosody -F` with its own config, data and pid file in a fresh temporary directory."""

    def __init__(self) -> None:
        executable = installed()
        if executable is None:
            raise RuntimeError("prosody is not installed (Debian: apt-get install prosody)")
        self.executable = executable
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.ws_url = f"ws://127.0.0.1:{self.port}/xmpp-websocket"
        self.dir = Path(tempfile.mkdtemp(prefix="moot-bench-prosody-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.start_seconds = 0.0

    def __enter__(self) -> ProsodyProcess:
        (self.dir / "data").mkdir()
        (self.dir / "certs").mkdir()
        config = self.dir / "prosody.cfg.lua"
        config.write_text(
            _CONFIG.format(
                dir=self.dir, port=self.port, domain=DOMAIN, muc=MUC_DOMAIN, fanout=FANOUT_DOMAIN
            )
        )
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [self.executable, "--config", str(config), "-F"],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # mod_websocket answers a plain GET once the HTTP service and its route are up.
        while True:
            if self.process.poll() is not None:
                log = self.log_tail()
                self.__exit__()
                raise RuntimeError(f"prosody exited during start-up: {log}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/xmpp-websocket").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.perf_counter() - started > 30:
                self.__exit__()
                raise RuntimeError("prosody did not listen within 30 s")
            time.sleep(0.02)
        self.start_seconds = time.perf_counter() - started
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid  # /usr/bin/prosody execs Lua in place: this is the server

    def log_tail(self) -> str:
        log = self.dir / "prosody.log"
        return log.read_text()[-2000:] if log.exists() else "(no log)"

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

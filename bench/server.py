"""Start and stop a real `moot serve` process for a benchmark run."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


class MootProcess:
    """`moot serve` with embedded PostgreSQL and Valkey in a fresh data directory."""

    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.data_dir = Path(tempfile.mkdtemp(prefix="moot-bench-"))
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.cold_start_seconds = 0.0

    def __enter__(self) -> MootProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOOT_")}
        env.update(
            MOOT_LOG_LEVEL="warning",
            MOOT_LOG_FORMAT="json",
            MOOT_RATE_LIMIT_ENABLED="false",
            MOOT_CLEANUP_ENABLED="false",
            MOOT_ROOM_MAX_PARTICIPANTS_LIMIT="1000",
            MOOT_MESH_MAX_PARTICIPANTS="1000",  # fan-out rooms are bigger than a P2P mesh
            **self.extra_env,
        )
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "moot.cli",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while True:
            if self.process.poll() is not None:
                raise RuntimeError("moot serve exited during start-up")
            try:
                if httpx.get(f"{self.url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.perf_counter() - started > 60:
                raise RuntimeError("moot serve did not become ready in 60 s")
            time.sleep(0.02)
        self.cold_start_seconds = time.perf_counter() - started
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.data_dir, ignore_errors=True)

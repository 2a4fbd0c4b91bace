"""Real moot processes for tests: `moot serve` / `moot worker` on the test stores."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import httpx

SHARED_SECRET = "shared-secret-for-both-instances-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def moot_env(stores: Any, **extra: str) -> dict[str, str]:
    """This process's environment without MOOT_*, pointed at the test stores."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOOT_")}
    env.update(
        MOOT_DATABASE_URL=stores.database_url,
        MOOT_REDIS_URL=stores.redis_url,
        MOOT_SECRET_KEY=SHARED_SECRET,
        MOOT_LOG_FORMAT="json",
        MOOT_CLEANUP_ENABLED="false",
        MOOT_STUN_PORT="0",  # several servers at once on one host; tests/test_stun.py covers it
        **extra,
    )
    return env


def start_moot(
    command: str,
    port: int,
    data_dir: Path,
    stores: Any,
    *,
    output: IO[bytes] | int = subprocess.DEVNULL,
    cwd: Path | None = None,
    **extra: str,
) -> subprocess.Popen[bytes]:
    """`moot serve|worker --port P --data-dir D` with `extra` MOOT_* settings."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "moot.cli",
            command,
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        env=moot_env(stores, **extra),
        cwd=cwd,
        stdout=output,
        stderr=subprocess.STDOUT,
    )


async def wait_ready(base: str, timeout: float = 15) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        for _ in range(int(timeout / 0.05)):
            try:
                if (await http.get("/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"{base} did not become ready")

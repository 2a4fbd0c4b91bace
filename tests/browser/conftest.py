"""Browser tests: the built web client in headless Chromium (Debian's, with fake camera and
microphone) against a real `moot serve` subprocess on the test stores, with the Gladia stand-in
for transcription.

They skip, saying what to install, when the client is not built or Chromium is missing.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.conftest import TestStores
from tests.gladia_standin import GladiaStandIn, GladiaState
from tests.processes import free_port, start_moot

ROOT = Path(__file__).resolve().parents[2]
WEB_DIST = ROOT / "web" / "dist"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]
# The stand-in turns audio bytes into words: a partial every 0.2 s of audio, the final after
# 1.5 s, so a partial stays on screen long enough to be seen before its final replaces it.
SPOKEN = "the quick brown fox jumps over the lazy dog"


def _missing() -> str | None:
    if not (WEB_DIST / "index.html").is_file():
        return "the web client is not built: run `cd web && npm ci && npm run build`"
    if not CHROMIUM.is_file():
        return (
            "Debian's chromium is missing: run "
            "`apt-get install -y --no-install-recommends chromium fonts-noto-core`"
        )
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: run `.venv/bin/pip install -e '.[dev]'`"
    return None


@pytest.fixture(scope="module")
def requirements() -> None:
    reason = _missing()
    if reason:
        pytest.skip(reason)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gladia(requirements: None) -> AsyncIterator[GladiaState]:
    async with GladiaStandIn(
        partial_every_bytes=6_400, final_every_bytes=48_000, texts=[SPOKEN]
    ) as state:
        yield state


@dataclass
class Server:
    url: str
    log: Path


@pytest.fixture(scope="module")
def server(
    stores: TestStores,
    gladia: GladiaState,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[Server]:
    """`moot serve` with web/dist, on the test stores, transcribing through the stand-in; a
    test module's `MOOT_ENV` dict adds or overrides settings for its server."""
    work = tmp_path_factory.mktemp("browser")
    port = free_port()
    log = work / "serve.log"
    env = {
        "MOOT_RATE_LIMIT_ENABLED": "false",
        "MOOT_WEB_DIR": str(WEB_DIST),
        "MOOT_GLADIA_BASE_URL": gladia.base_url,
        "MOOT_GLADIA_API_KEY": gladia.api_key,
        "MOOT_TRANSCRIPT_FLUSH_INTERVAL_MS": "50",
        **getattr(request.module, "MOOT_ENV", {}),
    }
    with log.open("wb") as out:
        process = start_moot("serve", port, work / "data", stores, output=out, cwd=work, **env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"moot serve did not start:\n{log.read_text()}"
            time.sleep(0.1)
        yield Server(url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser(requirements: None) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()

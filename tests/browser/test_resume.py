"""Nobody is dropped from a meeting: a reload (or a second tab) goes straight back in with the
seat, the role and the media; a server stopped for longer than the presence grace period ends
no one's meeting; a participant who becomes host because the host really left is told so.

A `moot serve` of this module's own, which the outage test stops and starts again on its port.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests import conftest
from tests.browser.conftest import WEB_DIST
from tests.browser.test_meeting import expect, join, my_id, start_meeting, wait_for_video
from tests.processes import free_port, start_moot, wait_ready

pytestmark = pytest.mark.asyncio(loop_scope="session")

WAIT_MS = 15_000
# Longer than the client's longest backoff (8 s, +25 % jitter), so a client is back within it.
GRACE = 12
CLOSED_TAB = 4  # a reload is back well within it
OUTAGE = 60  # the stop people met (issue 15): a minute, five grace periods


class Serve:
    def __init__(self, stores: conftest.TestStores, work: Path) -> None:
        self.stores, self.work = stores, work
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        with (self.work / "serve.log").open("ab") as log:
            self.process = start_moot(
                "serve",
                self.port,
                self.work / "data",
                self.stores,
                output=log,
                cwd=self.work,
                MOOT_RATE_LIMIT_ENABLED="false",
                MOOT_WEB_DIR=str(WEB_DIST),
                MOOT_PRESENCE_GRACE_SECONDS=str(GRACE),
                MOOT_PRESENCE_CLOSED_TAB_SECONDS=str(CLOSED_TAB),
            )
        await wait_ready(self.url, timeout=30)

    async def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(self.process.wait, 30)
        self.process = None


@pytest.fixture(scope="module")
def serve(
    requirements: None, stores: conftest.TestStores, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Serve]:
    server = Serve(stores, tmp_path_factory.mktemp("resume"))
    yield server
    if server.process is not None:
        server.process.terminate()
        server.process.wait(timeout=30)


@pytest_asyncio.fixture(loop_scope="session")
async def people(browser: Any, serve: Serve) -> AsyncIterator[Any]:
    """Opens a person's page: a fresh browser profile (an identity of its own) each time, or
    another tab of the profile given."""
    if serve.process is None:
        await serve.start()
    contexts: list[Any] = []
    errors: list[str] = []

    async def open_(context: Any = None) -> Any:
        if context is None:
            context = await browser.new_context(
                base_url=serve.url, locale="en-US", viewport={"width": 1280, "height": 800}
            )
            await context.grant_permissions(["camera", "microphone"], origin=serve.url)
            contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield open_
    for context in contexts:
        await context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


# Notes, in the page, whether `id` ever dropped out of its meeting's participants.
WATCH = """(id) => {
  const meeting = window.__moot.meeting;
  window.__dropped = false;
  meeting.subscribe(() => {
    const here = meeting.snapshot.participants.some((p) => p.participant_id === id);
    if (!here) window.__dropped = true;
  });
}"""

# Records, in the page, each state the connection banner shows (one may come and go while the
# test looks at the other page).
RECORD_BANNER = """() => {
  window.__banner = [];
  const seen = () => {
    const state = document.querySelector('[data-testid=connection-banner]')?.dataset.state ?? null;
    if (window.__banner[window.__banner.length - 1] !== state) window.__banner.push(state);
  };
  seen();
  const everything = {subtree: true, childList: true, attributes: true};
  new MutationObserver(seen).observe(document.body, everything);
}"""

INBOUND_BYTES = """(id) => window.__moot.peers.get(id).getStats().then((stats) => {
  let bytes = 0;
  stats.forEach((r) => { if (r.type === 'inbound-rtp') bytes += r.bytesReceived || 0; });
  return bytes;
})"""


async def test_the_host_reloads_and_keeps_the_host_role_and_the_call(people: Any) -> None:
    host = await people()
    url = await start_meeting(host, "Reload", "Ada")
    guest = await people()
    await join(guest, url, "Grace")
    host_id, guest_id = await my_id(host), await my_id(guest)
    await wait_for_video(guest, host_id)
    await guest.evaluate(WATCH, host_id)

    await host.reload()
    # Straight back in: no pre-join, the same identity, still the host, video both ways.
    await host.get_by_test_id("meeting").wait_for()
    assert await host.get_by_test_id("join").count() == 0
    assert await my_id(host) == host_id
    await expect(host.get_by_test_id("host-menu")).to_be_visible()
    await wait_for_video(host, guest_id)
    await wait_for_video(guest, host_id)
    # The other side never saw the host leave; at most "reconnecting", which is gone now.
    await expect(guest.get_by_test_id("tile-reconnecting")).to_have_count(0)
    assert await guest.evaluate("window.__dropped") is False
    assert await guest.evaluate("window.__moot.meeting.snapshot.you.role") == "participant"
    await expect(guest.get_by_test_id("toggle-people")).to_contain_text("2")

    # A second tab of the same person takes the meeting over; the first steps aside, and the
    # seat stays (the guest still sees two people).
    second = await people(host.context)
    await second.goto(url)
    await second.get_by_test_id("meeting").wait_for()
    await expect(second.get_by_test_id("host-menu")).to_be_visible()
    await expect(host.get_by_role("status")).to_have_text("You joined from another tab")
    await expect(host.get_by_role("button", name="Continue here")).to_be_visible()
    await wait_for_video(second, guest_id)
    await wait_for_video(guest, host_id)
    assert await guest.evaluate("window.__dropped") is False


async def test_a_participant_who_becomes_host_because_the_host_left_is_told(
    people: Any,
) -> None:
    host = await people()
    url = await start_meeting(host, "Handover", "Ada")
    guest = await people()
    await join(guest, url, "Grace")
    await my_id(guest)
    await host.close(run_before_unload=True)  # the tab is closed: the host has really gone
    # After the closed-tab wait (the grace period at most), the role passes on, and the new
    # host is told.
    toast = guest.get_by_text("You are now the host")
    await expect(toast).to_be_visible(timeout=(GRACE + 5) * 1000)
    await expect(guest.get_by_test_id("host-menu")).to_be_visible()
    await expect(guest.get_by_test_id("toggle-people")).to_contain_text("1")


async def test_a_server_stopped_longer_than_the_grace_period_ends_no_ones_meeting(
    people: Any, serve: Serve
) -> None:
    host = await people()
    url = await start_meeting(host, "Outage", "Ada")
    guest = await people()
    await join(guest, url, "Grace")
    host_id, guest_id = await my_id(host), await my_id(guest)
    await wait_for_video(host, guest_id)
    await wait_for_video(guest, host_id)
    await guest.evaluate(WATCH, host_id)
    await host.evaluate(WATCH, guest_id)
    for page in (host, guest):
        await page.evaluate(RECORD_BANNER)

    await serve.stop()
    for page in (host, guest):
        banner = page.get_by_test_id("connection-banner")
        await expect(banner).to_have_attribute("data-state", "lost")
        await expect(banner).to_contain_text("reconnecting")
    before = await guest.evaluate(INBOUND_BYTES, host_id)
    await asyncio.sleep(OUTAGE)  # the outage itself, on purpose longer than the grace period
    # Peer-to-peer media went on without the server.
    assert await guest.evaluate(INBOUND_BYTES, host_id) > before
    assert await guest.evaluate(f"window.__moot.peers.get('{host_id}').connectionState") == (
        "connected"
    )

    await serve.start()
    for page in (host, guest):
        # "Reconnected", then no banner at all.
        await page.wait_for_function("window.__banner.includes('back')")
        await expect(page.get_by_test_id("connection-banner")).to_have_count(0)
        assert await page.evaluate("window.__banner") == [None, "lost", "back", None]
        await expect(page.get_by_test_id("meeting")).to_be_visible()
        await expect(page.get_by_test_id("toggle-people")).to_contain_text("2")
    assert await host.get_by_test_id("end-screen").count() == 0
    assert await guest.get_by_test_id("end-screen").count() == 0
    assert await guest.evaluate("window.__dropped") is False
    assert await host.evaluate("window.__dropped") is False
    await expect(host.get_by_test_id("host-menu")).to_be_visible()
    # The socket works again: chat goes through.
    await host.get_by_test_id("toggle-chat").click()
    await host.get_by_test_id("chat-input").fill("still here")
    await host.get_by_test_id("chat-input").press("Enter")
    await guest.get_by_test_id("toggle-chat").click()
    await expect(guest.get_by_test_id("chat-text").filter(has_text="still here")).to_be_visible()

"""When audio and video cannot connect, people are told why and can retry; a participant who
blocked the camera and microphone can allow them from inside the meeting."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Server
from tests.browser.pages import Profiles
from tests.browser.test_meeting import expect, join, my_id, start_meeting, wait_for_video

pytestmark = pytest.mark.asyncio(loop_scope="session")

# The client's watchdog (web/src/media/mesh.ts, CONNECT_TIMEOUT_MS): a connection not up within
# 12 s restarts ICE on its own, and is given up after another 12 s.
CONNECT_TIMEOUT_MS = 12_000
GIVE_UP_MS = 2 * CONNECT_TIMEOUT_MS + 10_000


@pytest_asyncio.fixture(loop_scope="session")
async def profiles(browser: Any, server: Server) -> AsyncIterator[Profiles]:
    opened = Profiles(browser, server)
    yield opened
    await opened.close()


def unreachable_udp_port() -> int:
    """A loopback UDP port nothing listens on: a TURN server there never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# A network that lets nothing through but a TURN relay (iceTransportPolicy "relay", as behind a
# strict firewall): while window.__relayOnly is true, this page's new peer connections may use
# relayed candidates only.
RELAY_ONLY = """(() => {
  window.__relayOnly = true;
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = function (config) {
    return new Native(window.__relayOnly ? {...config, iceTransportPolicy: 'relay'} : config);
  };
  window.RTCPeerConnection.prototype = Native.prototype;
  Object.setPrototypeOf(window.RTCPeerConnection, Native);
})();"""

# Every state the tiles' media goes through, so a short-lived one is still seen.
RECORD_TILE_STATES = """() => {
  window.__tileStates = [];
  const tiles = () => document.querySelectorAll('[data-testid=tile][data-kind=camera]');
  const seen = () => tiles().forEach((el) => {
    const id = el.dataset.participantId, state = el.dataset.media;
    const last = window.__tileStates.filter((s) => s.id === id).pop();
    if (!last || last.state !== state) window.__tileStates.push({id, state});
  });
  seen();
  new MutationObserver(seen)
    .observe(document.body, {subtree: true, childList: true, attributes: true});
}"""


async def test_a_blocked_webrtc_config_shows_the_error_and_retry_brings_the_call_up(
    profiles: Profiles,
) -> None:
    host = await profiles.open()
    url = await start_meeting(host, "Config", "Ada")
    guest = await profiles.open()
    # The guest's network drops the request for the ICE servers.
    await guest.route(re.compile(r"/media/webrtc$"), lambda route: route.abort())
    await join(guest, url, "Grace")
    host_id, guest_id = await my_id(host), await my_id(guest)

    banner = guest.get_by_test_id("media-banner")
    await expect(banner).to_contain_text("Audio and video couldn’t start")
    await expect(banner).to_contain_text("Check your internet connection")
    ada = guest.locator(f"[data-testid=tile][data-participant-id='{host_id}']")
    await expect(ada.get_by_test_id("tile-failed")).to_contain_text("Couldn’t connect")

    # The cause goes away; the retry on the tile starts the media, and the call comes up.
    await guest.unroute(re.compile(r"/media/webrtc$"))
    await ada.get_by_role("button", name="Retry connecting to Ada").click()
    await wait_for_video(guest, host_id)
    await wait_for_video(host, guest_id)
    await expect(banner).to_have_count(0)
    await expect(ada).to_have_attribute("data-media", "ok")


async def test_a_forced_ice_failure_restarts_ice_then_offers_a_retry_that_works(
    profiles: Profiles,
) -> None:
    host = await profiles.open()
    url = await start_meeting(host, "Firewall", "Ada")
    guest = await profiles.open()
    # Grace's network allows only relayed traffic, and her only relay is unreachable.
    relay = f"turn:127.0.0.1:{unreachable_udp_port()}?transport=udp"

    async def only_an_unreachable_relay(route: Any) -> None:
        response = await route.fetch()
        config = await response.json()
        config["iceServers"] = [{"urls": [relay], "username": "grace", "credential": "secret"}]
        await route.fulfill(response=response, body=json.dumps(config))

    await guest.add_init_script(RELAY_ONLY)
    await guest.route(re.compile(r"/media/webrtc$"), only_an_unreachable_relay)
    await join(guest, url, "Grace")
    host_id, guest_id = await my_id(host), await my_id(guest)
    await guest.evaluate(RECORD_TILE_STATES)

    ada = guest.locator(f"[data-testid=tile][data-participant-id='{host_id}']")
    failed = ada.get_by_test_id("tile-failed")
    await expect(failed).to_contain_text("Couldn’t connect", timeout=GIVE_UP_MS)
    # ICE was restarted on its own before the tile gave up.
    states = [s["state"] for s in await guest.evaluate("window.__tileStates") if s["id"] == host_id]
    assert "restarting" in states, states
    assert states.index("restarting") < states.index("failed"), states
    banner = guest.get_by_test_id("media-banner")
    await expect(banner).to_contain_text("Couldn’t connect audio and video with Ada")
    await expect(banner).to_contain_text("Even the TURN relay couldn’t be reached")
    # Ada's side gives up on Grace too, and says so.
    grace = host.locator(f"[data-testid=tile][data-participant-id='{guest_id}']")
    await expect(grace.get_by_test_id("tile-failed")).to_be_visible(timeout=GIVE_UP_MS)

    # Grace moves to a network that lets the call through and retries: both sides connect.
    await guest.evaluate("window.__relayOnly = false")
    await guest.unroute(re.compile(r"/media/webrtc$"))
    await ada.get_by_role("button", name="Retry connecting to Ada").click()
    await wait_for_video(guest, host_id)
    await wait_for_video(host, guest_id)
    await expect(ada).to_have_attribute("data-media", "ok")
    await expect(grace).to_have_attribute("data-media", "ok")
    await expect(banner).to_have_count(0)
    await expect(host.get_by_test_id("media-banner")).to_have_count(0)


@pytest_asyncio.fixture(loop_scope="session")
async def denying_browser(requirements: None) -> AsyncIterator[Any]:
    """Chromium that answers every permission prompt with "block" (fake devices still there),
    as for someone who clicked Block; Playwright's grants still apply, as site settings do."""
    from playwright.async_api import async_playwright

    args = [a for a in CHROMIUM_ARGS if a != "--use-fake-ui-for-media-stream"]
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*args, "--deny-permission-prompts"]
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def test_a_participant_who_blocked_camera_and_microphone_allows_them_from_the_meeting(
    profiles: Profiles, denying_browser: Any, server: Server
) -> None:
    page = await profiles.open(media=False, browser=denying_browser)
    await page.goto("/")
    await page.get_by_label("Your name").fill("Ada")
    await page.get_by_label("Meeting title").fill("Blocked")
    await page.get_by_role("button", name="New meeting").click()
    await expect(page.get_by_role("alert")).to_contain_text("Camera and microphone are blocked")
    await page.get_by_label("Your name").fill("Ada")
    await page.get_by_role("button", name="Join now").click()
    await page.get_by_test_id("meeting").wait_for()

    # The buttons say why they are off and how to fix it; a click asks again.
    mic = page.get_by_test_id("toggle-mic")
    cam = page.get_by_test_id("toggle-cam")
    explanation = (
        "Microphone blocked — allow it in the browser’s site settings, then click to retry"
    )
    await expect(mic).to_have_accessible_name(explanation)
    await expect(mic).to_have_attribute("data-tip", explanation)
    await expect(mic).to_be_enabled()
    await expect(cam).to_have_accessible_name(
        "Camera blocked — allow it in the browser’s site settings, then click to retry"
    )
    await mic.click()  # still blocked: said again, where touch screens see it too
    await expect(page.locator(".toast.error")).to_have_text(explanation)

    # They allow both in the site settings, then click the microphone: both come on.
    await page.context.grant_permissions(["camera", "microphone"], origin=server.url)
    await mic.click()
    await expect(mic).to_have_accessible_name("Turn off microphone")
    await expect(cam).to_have_accessible_name("Turn off camera")
    await page.wait_for_function(
        "document.querySelector('[data-testid=tile][data-kind=camera] video')?.videoWidth > 0"
    )

"""A meeting as people have it: two browsers, a real moot, fake cameras and microphones."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

from tests.browser.conftest import SPOKEN, Server

pytestmark = pytest.mark.asyncio(loop_scope="session")

Open = Callable[..., Awaitable[Any]]
WAIT_MS = 15_000


@pytest_asyncio.fixture(loop_scope="session")
async def open_browser(browser: Any, server: Server) -> AsyncIterator[Open]:
    """A fresh browser profile per person (its own identity in localStorage)."""
    contexts: list[Any] = []
    errors: list[str] = []

    async def open_(locale: str = "en-US") -> Any:
        context = await browser.new_context(
            base_url=server.url, locale=locale, viewport={"width": 1280, "height": 800}
        )
        await context.grant_permissions(["camera", "microphone"], origin=server.url)
        contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield open_
    for context in contexts:
        await context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


async def start_meeting(page: Any, title: str, name: str) -> str:
    """From the landing page (your name, then one click); then through the pre-join, where the
    name is already filled in. Returns the room URL."""
    await page.goto("/")
    await page.get_by_label("Your name").fill(name)
    await page.get_by_label("Meeting title").fill(title)
    await page.get_by_role("button", name="New meeting").click()
    await page.wait_for_url(re.compile(r"/r/[a-z]{3}-[a-z]{4}-[a-z]{3}$"))
    # A 10-seat room in peer-to-peer mode seats the mesh's 6, and the host is told so.
    capacity = page.get_by_test_id("capacity")
    await capacity.wait_for()
    assert (await capacity.text_content() or "").startswith("Up to 6 people can join: video")
    url: str = page.url
    await join(page, url, name)
    return url


async def join(page: Any, url: str, name: str) -> None:
    if page.url != url:
        await page.goto(url)
    await page.get_by_label("Your name").fill(name)
    await page.get_by_role("button", name="Join now").click()
    await page.get_by_test_id("meeting").wait_for()


async def my_id(page: Any) -> str:
    await page.wait_for_function("window.__moot?.meeting?.snapshot.you.participant_id")
    participant_id: str = await page.evaluate("window.__moot.meeting.snapshot.you.participant_id")
    return participant_id


VIDEO_FROM = """async (id) => {
  const pc = window.__moot.peers.get(id);
  if (!pc) return {bytes: 0, width: 0, state: 'none'};
  let bytes = 0;
  (await pc.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video') bytes += r.bytesReceived || 0;
  });
  const video = document.querySelector(`[data-participant-id="${id}"][data-kind=camera] video`);
  return {bytes, width: video ? video.videoWidth : 0, state: pc.connectionState};
}"""


async def wait_for_video(page: Any, from_id: str, seconds: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        seen: dict[str, Any] = await page.evaluate(VIDEO_FROM, from_id)
        if seen["bytes"] > 0 and seen["width"] > 0:
            return seen
        assert time.monotonic() < deadline, f"no video from {from_id}: {seen}"
        await asyncio.sleep(0.2)


def expect(target: Any) -> Any:
    from playwright.async_api import expect as playwright_expect

    playwright_expect.set_options(timeout=WAIT_MS)
    return playwright_expect(target)


async def test_a_guest_joins_by_link_and_both_see_each_others_video(open_browser: Open) -> None:
    host = await open_browser()
    url = await start_meeting(host, "Standup", "Ada")
    guest = await open_browser()
    await join(guest, url, "Grace")
    host_id, guest_id = await my_id(host), await my_id(guest)

    # Mesh mode: one peer connection each way, real RTP, a decoded frame with a size.
    host_sees = await wait_for_video(host, guest_id)
    guest_sees = await wait_for_video(guest, host_id)
    assert host_sees["state"] == guest_sees["state"] == "connected"
    for page, other in ((host, "Grace"), (guest, "Ada")):
        await expect(page.get_by_role("figure", name=other, exact=True)).to_be_visible()
    await expect(host.get_by_test_id("toggle-people")).to_contain_text("2")


def said(page: Any, text: str) -> Any:
    return page.get_by_test_id("chat-text").filter(has_text=text)


async def test_chat_goes_both_ways_and_edits_and_deletes_reach_the_other_side(
    open_browser: Open,
) -> None:
    host = await open_browser()
    url = await start_meeting(host, "Chat", "Ada")
    guest = await open_browser()
    await join(guest, url, "Grace")
    await host.get_by_test_id("toggle-chat").click()
    host_input = host.get_by_test_id("chat-input")
    await host_input.fill("Hello from Ada")
    await host_input.press("Enter")
    await expect(said(host, "Hello from Ada")).to_be_visible()

    # The guest's chat is closed: the message shows up as an unread badge first.
    await expect(guest.get_by_role("button", name=re.compile("1 unread message"))).to_be_visible()
    await guest.get_by_test_id("toggle-chat").click()
    await expect(said(guest, "Hello from Ada")).to_be_visible()
    guest_input = guest.get_by_test_id("chat-input")
    await guest_input.fill("Hi Ada, Grace here")
    await expect(host.get_by_test_id("typing")).to_have_text("Grace is typing…")
    await guest_input.press("Enter")
    await expect(said(host, "Hi Ada, Grace here")).to_be_visible()

    # Ada edits her message, then deletes it; Grace sees both.
    mine = host.get_by_test_id("chat-message").filter(has_text="Hello from Ada")
    await mine.hover()
    await mine.get_by_role("button", name="Edit").click()
    editor = mine.get_by_role("textbox")
    await editor.fill("Hello from Ada, edited")
    await editor.press("Enter")
    theirs = guest.get_by_test_id("chat-message").filter(has_text="Hello from Ada, edited")
    await expect(theirs).to_contain_text("(edited)")
    await mine.hover()
    await mine.get_by_role("button", name="Delete").click()
    await expect(theirs).to_have_count(0)
    await expect(said(guest, "Hi Ada, Grace here")).to_be_visible()


# Records every state a transcript line goes through, so a partial replaced quickly by its
# final is still seen.
RECORD_SEGMENTS = """() => {
  window.__segments = [];
  const seen = () => document.querySelectorAll('[data-testid=transcript-segment]').forEach((el) => {
    const entry = {u: el.dataset.utterance, final: el.dataset.final === 'true',
                   text: el.querySelector('p').textContent};
    const last = window.__segments.filter((s) => s.u === entry.u).pop();
    const changed = !last || last.final !== entry.final || last.text !== entry.text;
    if (changed) window.__segments.push(entry);
  });
  new MutationObserver(seen).observe(document.body,
    {subtree: true, childList: true, characterData: true, attributes: true});
}"""


async def test_the_guest_sees_the_hosts_words_as_partials_then_final_text(
    open_browser: Open,
) -> None:
    host = await open_browser()
    url = await start_meeting(host, "Transcript", "Ada")
    guest = await open_browser()
    await join(guest, url, "Grace")
    await guest.get_by_test_id("toggle-transcript").click()
    await guest.evaluate(RECORD_SEGMENTS)

    await host.get_by_test_id("toggle-transcript").click()
    await host.get_by_role("button", name="Start transcription").click()
    await expect(guest.get_by_test_id("transcript-live")).to_be_visible()
    final = guest.locator("[data-testid=transcript-segment][data-final=true]").first
    await expect(final).to_contain_text(SPOKEN)
    await expect(final).to_contain_text("Ada")

    history: list[dict[str, Any]] = await guest.evaluate("window.__segments")
    utterance = next(s["u"] for s in history if s["final"])
    states = [s for s in history if s["u"] == utterance]
    assert not states[0]["final"], states
    assert SPOKEN.startswith(states[0]["text"]) and states[0]["text"] != SPOKEN, states
    assert states[-1] == {"u": utterance, "final": True, "text": SPOKEN}

    await host.get_by_role("button", name="Stop transcription").click()
    await expect(guest.get_by_test_id("transcript-live")).to_have_count(0)
    # The stored transcript downloads as text.
    await host.get_by_role("button", name="Download").click()
    async with host.expect_download() as download_info:
        await host.get_by_role("menuitem", name=".txt").click()
    download = await download_info.value
    path = await download.path()
    with open(path, encoding="utf-8") as exported:  # noqa: ASYNC230 (a small local file)
        assert SPOKEN in exported.read()


async def test_a_removed_guest_and_a_guest_of_an_ended_meeting_are_told_so(
    open_browser: Open,
) -> None:
    host = await open_browser()
    url = await start_meeting(host, "Moderated", "Ada")
    guest = await open_browser()
    await join(guest, url, "Grace")

    await host.get_by_test_id("toggle-people").click()
    await host.get_by_role("button", name="Actions for Grace").click()
    await host.get_by_role("menuitem", name="Remove from meeting").click()
    await host.get_by_role("alertdialog").get_by_role("button", name="Remove from meeting").click()
    await expect(guest.get_by_role("status")).to_have_text("You were removed from the meeting")
    await expect(host.get_by_test_id("person")).to_have_count(1)
    # Coming back by the link does not get them in.
    await guest.goto(url)
    await guest.get_by_label("Your name").fill("Grace again")
    await guest.get_by_role("button", name="Join now").click()
    await expect(guest.get_by_role("status")).to_have_text("You were removed from the meeting")

    other = await open_browser()
    await join(other, url, "Linus")
    await host.get_by_test_id("host-menu").click()
    await host.get_by_role("menuitem", name="End meeting for all").click()
    await host.get_by_role("alertdialog").get_by_role("button", name="End meeting for all").click()
    await expect(other.get_by_role("status")).to_have_text("The meeting has ended")
    await expect(host.get_by_role("status")).to_have_text("The meeting has ended")


async def test_the_interface_switches_to_russian_and_follows_a_russian_browser(
    open_browser: Open,
) -> None:
    page = await open_browser()
    await page.goto("/")
    await expect(page.get_by_role("button", name="New meeting")).to_be_visible()
    await page.get_by_test_id("language").select_option("ru")
    await expect(page.get_by_role("button", name="Новая встреча")).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("lang", "ru")
    await page.reload()  # the choice is remembered
    await expect(page.get_by_role("button", name="Новая встреча")).to_be_visible()

    russian = await open_browser(locale="ru-RU")
    await russian.goto("/")
    await expect(russian.get_by_role("heading", name="Встреча в один клик")).to_be_visible()

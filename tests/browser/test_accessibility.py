"""axe-core finds nothing serious on any screen, in light and dark; the meeting works from the
keyboard: chat takes focus, Escape closes panels and menus and gives focus back, arrow keys
move in menus, and "?" lists the shortcuts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.browser.conftest import Server
from tests.browser.pages import Profiles, require_axe, serious_axe_findings
from tests.browser.test_meeting import expect, join, my_id, wait_for_video

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def profiles(browser: Any, server: Server) -> AsyncIterator[Profiles]:
    opened = Profiles(browser, server)
    yield opened
    await opened.close()


async def assert_accessible(page: Any, screen: str) -> None:
    await expect(page.locator("h1")).to_have_count(1)
    findings = await serious_axe_findings(page)
    assert not findings, f"{screen}: " + "\n".join(findings)


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_no_serious_axe_findings_on_any_screen(profiles: Profiles, scheme: str) -> None:
    require_axe()
    host = await profiles.open(scheme=scheme)
    await host.goto("/")
    await assert_accessible(host, "landing")

    await host.get_by_label("Your name").fill("Ada")
    await host.get_by_label("Meeting title").fill("Audit")
    await host.get_by_role("button", name="New meeting").click()
    await host.wait_for_function(
        "document.querySelector('[data-testid=preview] video')?.videoWidth > 0"
    )
    await assert_accessible(host, "pre-join")
    url = host.url
    await host.get_by_label("Your name").fill("Ada")
    await host.get_by_role("button", name="Join now").click()
    await host.get_by_test_id("meeting").wait_for()
    guest = await profiles.open(scheme=scheme)
    await join(guest, url, "Grace")
    await wait_for_video(host, await my_id(guest))
    await assert_accessible(host, "meeting")

    # A chat with messages both ways (timestamps, grouped lines) and system lines.
    await guest.get_by_test_id("toggle-chat").click()
    await guest.get_by_test_id("chat-input").fill("Hello from Grace")
    await guest.get_by_test_id("chat-input").press("Enter")
    await host.get_by_test_id("toggle-chat").click()
    await host.get_by_test_id("chat-input").fill("Hi Grace")
    await host.get_by_test_id("chat-input").press("Enter")
    await expect(
        host.get_by_test_id("chat-text").filter(has_text="Hello from Grace")
    ).to_be_visible()
    await assert_accessible(host, "meeting, chat open")
    await host.get_by_test_id("toggle-people").click()
    await assert_accessible(host, "meeting, people open")
    await host.get_by_test_id("toggle-transcript").click()
    await assert_accessible(host, "meeting, transcript open")
    await host.get_by_test_id("devices").click()
    await assert_accessible(host, "meeting, settings menu open")
    await host.keyboard.press("Escape")
    await host.keyboard.press("?")
    await assert_accessible(host, "meeting, shortcuts open")
    await host.keyboard.press("Escape")

    await guest.get_by_test_id("leave").click()
    await guest.get_by_test_id("end-screen").wait_for()
    await assert_accessible(guest, "end screen (left)")
    await host.get_by_test_id("host-menu").click()
    await host.get_by_role("menuitem", name="End meeting for all").click()
    await host.get_by_role("alertdialog").get_by_role("button", name="End meeting for all").click()
    await host.get_by_test_id("end-screen").wait_for()
    await assert_accessible(host, "end screen (ended)")


async def focused_test_id(page: Any) -> str | None:
    test_id: str | None = await page.evaluate("document.activeElement?.dataset.testid ?? null")
    return test_id


async def test_the_meeting_works_from_the_keyboard(profiles: Profiles) -> None:
    page = await profiles.open()
    await page.goto("/")
    await page.get_by_label("Your name").fill("Ada")
    await page.get_by_role("button", name="New meeting").click()
    await page.get_by_label("Your name").fill("Ada")
    await page.get_by_role("button", name="Join now").click()
    await page.get_by_test_id("meeting").wait_for()

    # The People button's name carries its count.
    await expect(page.get_by_role("button", name="People: 1", exact=True)).to_be_visible()

    # Opening chat puts the cursor in the message box; Escape closes it, back to its button.
    chat = page.get_by_test_id("toggle-chat")
    await chat.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("chat-input")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(page.get_by_test_id("panel-chat")).to_have_count(0)
    await expect(chat).to_be_focused()

    # Another panel takes focus itself and gives it back the same way.
    people = page.get_by_test_id("toggle-people")
    await people.focus()
    await page.keyboard.press("Enter")
    panel = page.get_by_test_id("panel-people")
    await expect(panel.get_by_role("heading", name="People")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(panel).to_have_count(0)
    await expect(people).to_be_focused()

    # Menus: the first item gets focus, arrows move (and wrap), Escape closes, focus returns.
    settings = page.get_by_test_id("devices")
    await settings.focus()
    await page.keyboard.press("Enter")
    items = page.get_by_role("menu").locator("[role^=menuitem]")
    count = await items.count()
    assert count >= 3  # a microphone, a camera, the shortcuts
    await expect(items.nth(0)).to_be_focused()
    await page.keyboard.press("ArrowDown")
    await expect(items.nth(1)).to_be_focused()
    await page.keyboard.press("ArrowUp")
    await page.keyboard.press("ArrowUp")
    await expect(items.nth(count - 1)).to_be_focused()
    await expect(items.nth(count - 1)).to_have_text("Keyboard shortcuts (?)")
    await page.keyboard.press("Home")
    await expect(items.nth(0)).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("menu")).to_have_count(0)
    await expect(settings).to_be_focused()

    # "?" lists the shortcuts; Escape closes the list, and focus is where it was.
    await page.keyboard.press("?")
    shortcuts = page.get_by_role("dialog", name="Keyboard shortcuts")
    await expect(shortcuts).to_contain_text("Ctrl+D")
    await expect(shortcuts).to_contain_text("Turn the microphone on or off")
    await expect(shortcuts).to_contain_text("Close a panel, menu or dialog")
    await page.keyboard.press("Escape")
    await expect(shortcuts).to_have_count(0)
    await expect(settings).to_be_focused()
    # Typed into the chat, "?" is just a character.
    await chat.click()
    await page.keyboard.type("why?")
    await expect(page.get_by_test_id("chat-input")).to_have_value("why?")
    await expect(shortcuts).to_have_count(0)

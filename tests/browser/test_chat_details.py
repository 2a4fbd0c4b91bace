"""Chat details, as people have them: a refused message kept for a retry, links that are safe
to click, system lines in the reader's language, the host's name from the start, and a host
asked before deleting someone else's message.

This module's server limits chat to one message per participant every two seconds, so a
second message sent at once is refused for real (`rate_limited`), and a retry after the wait
goes through.
"""

from __future__ import annotations

import re

import pytest

from tests.browser import test_meeting
from tests.browser.test_meeting import Open, expect, join, said, start_meeting

pytestmark = pytest.mark.asyncio(loop_scope="session")

open_browser = test_meeting.open_browser  # the fixture: a fresh browser profile per person
MOOT_ENV = {"MOOT_RATE_LIMIT_ENABLED": "true", "MOOT_RATE_LIMIT_CHAT_MESSAGE": "1/2second"}
ROOM_URL = re.compile(r"/r/[a-z]{3}-[a-z]{4}-[a-z]{3}$")


async def test_a_message_refused_for_coming_too_fast_keeps_its_text_and_goes_out_on_retry(
    open_browser: Open,
) -> None:
    host = await open_browser()
    url = await start_meeting(host, "Retry", "Ada")
    guest = await open_browser()
    await join(guest, url, "Grace")
    await guest.get_by_test_id("toggle-chat").click()
    await host.get_by_test_id("toggle-chat").click()
    box = host.get_by_test_id("chat-input")
    await box.fill("first")
    await box.press("Enter")
    await box.fill("second, too soon")
    await box.press("Enter")

    failed = host.locator("[data-testid=chat-outgoing][data-status=failed]")
    await expect(failed).to_contain_text("second, too soon")
    await expect(failed).to_contain_text("Not sent: too many messages at once.")
    await expect(said(guest, "first")).to_be_visible()
    await expect(said(guest, "second, too soon")).to_have_count(0)

    # Retry is offered once the server's wait is over (the click waits for it), and sends it.
    await failed.get_by_role("button", name="Retry").click()
    await expect(said(guest, "second, too soon")).to_be_visible()
    await expect(host.get_by_test_id("chat-outgoing")).to_have_count(0)
    await expect(said(host, "second, too soon")).to_have_count(1)


async def test_web_links_are_links_and_script_urls_and_markup_stay_text(
    open_browser: Open,
) -> None:
    host = await open_browser()
    url = await start_meeting(host, "Links", "Ada")
    guest = await open_browser()
    await join(guest, url, "Grace")
    await host.get_by_test_id("toggle-chat").click()
    box = host.get_by_test_id("chat-input")
    text = (
        "notes at https://example.com/guide?x=1, not javascript:alert(document.domain) "
        "nor data:text/html,<b>bold</b> <img src=x onerror=alert(1)>"
    )
    await box.fill(text)
    await box.press("Enter")

    await guest.get_by_test_id("toggle-chat").click()
    message = said(guest, "notes at")
    await expect(message).to_have_text(text)
    link = message.get_by_role("link")
    await expect(link).to_have_count(1)
    await expect(link).to_have_text("https://example.com/guide?x=1")
    await expect(link).to_have_attribute("href", "https://example.com/guide?x=1")
    await expect(link).to_have_attribute("target", "_blank")
    await expect(link).to_have_attribute("rel", "noopener noreferrer")
    await expect(guest.locator("a[href^='javascript' i], a[href^='data' i]")).to_have_count(0)
    await expect(message.locator("b, img")).to_have_count(0)


async def test_system_lines_are_in_russian_for_a_russian_browser(open_browser: Open) -> None:
    host = await open_browser(locale="ru-RU")
    await host.goto("/")
    await host.get_by_label("Ваше имя").fill("Ада")
    await host.get_by_role("button", name="Новая встреча").click()
    await host.wait_for_url(ROOM_URL)
    await host.get_by_test_id("join").click()
    await host.get_by_test_id("meeting").wait_for()

    guest = await open_browser(locale="ru-RU")
    await guest.goto(host.url)
    await guest.get_by_label("Ваше имя").fill("Борис")
    await guest.get_by_test_id("join").click()
    await guest.get_by_test_id("meeting").wait_for()
    await host.get_by_test_id("toggle-chat").click()
    lines = host.get_by_test_id("system-message")
    await expect(lines).to_have_text(["Ада теперь во встрече", "Борис теперь во встрече"])

    # A line that arrives live is worded in Russian too.
    await guest.get_by_test_id("leave").click()
    await expect(lines.last).to_have_text("Борис покидает встречу")


async def test_creating_a_meeting_asks_the_hosts_name_first(open_browser: Open) -> None:
    page = await open_browser()
    await page.goto("/")
    await page.get_by_role("button", name="New meeting").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Enter your name first: the others see it in the meeting."
    )
    name = page.get_by_label("Your name")
    await expect(name).to_be_focused()
    assert not ROOM_URL.search(page.url)

    await name.fill("Ada")
    await page.get_by_role("button", name="New meeting").click()
    await page.wait_for_url(ROOM_URL)
    # The pre-join offers the same name, so joining renames no one.
    await expect(page.get_by_label("Your name")).to_have_value("Ada")
    await page.get_by_role("button", name="Join now").click()
    await page.get_by_test_id("toggle-chat").click()
    await expect(page.get_by_test_id("system-message")).to_have_text(["Ada joined"])


async def test_the_host_confirms_before_deleting_someone_elses_message(open_browser: Open) -> None:
    host = await open_browser()
    url = await start_meeting(host, "Moderation", "Ada")
    guest = await open_browser()
    await join(guest, url, "Grace")
    await guest.get_by_test_id("toggle-chat").click()
    box = guest.get_by_test_id("chat-input")
    await box.fill("a message from Grace")
    await box.press("Enter")

    await host.get_by_test_id("toggle-chat").click()
    theirs = host.get_by_test_id("chat-message").filter(has_text="a message from Grace")
    await theirs.hover()
    delete = theirs.get_by_role("button", name="Delete")
    await delete.click()
    dialog = host.get_by_role("alertdialog")
    await expect(dialog).to_contain_text("Delete this message from Grace?")
    await expect(dialog.get_by_role("button", name="Delete")).to_be_focused()

    # Escape cancels: nothing is deleted, the chat stays open, focus goes back where it was.
    await host.keyboard.press("Escape")
    await expect(dialog).to_have_count(0)
    await expect(delete).to_be_focused()
    await expect(said(host, "a message from Grace")).to_be_visible()
    await expect(said(guest, "a message from Grace")).to_be_visible()

    await delete.click()
    await dialog.get_by_role("button", name="Delete").click()
    await expect(said(guest, "a message from Grace")).to_have_count(0)
    await expect(said(host, "a message from Grace")).to_have_count(0)

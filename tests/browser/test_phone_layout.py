"""A meeting on a phone: one bottom bar with nothing overlapping, your own video as a small
overlay, the link reachable, panels as full-screen sheets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.browser.conftest import Server
from tests.browser.pages import (
    AXE,
    Profiles,
    outside,
    overlapping,
    serious_axe_findings,
    visible_controls,
)
from tests.browser.test_meeting import expect, join, my_id, start_meeting, wait_for_video

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def profiles(browser: Any, server: Server) -> AsyncIterator[Profiles]:
    opened = Profiles(browser, server)
    yield opened
    await opened.close()


async def assert_controls_apart(page: Any, where: str) -> list[dict[str, Any]]:
    controls, width, height = await visible_controls(page)
    assert controls, where
    assert not overlapping(controls), f"{where}: overlapping controls {overlapping(controls)}"
    assert not outside(controls, width, height), (
        f"{where}: cut off {outside(controls, width, height)}"
    )
    return controls


async def box(locator: Any) -> dict[str, float]:
    found: dict[str, float] | None = await locator.bounding_box()
    assert found is not None
    return found


@pytest.mark.parametrize(("width", "height"), [(360, 740), (390, 844)])
async def test_a_host_on_a_phone_has_every_control_apart_and_in_reach(
    profiles: Profiles, tmp_path: Path, width: int, height: int
) -> None:
    phone = await profiles.open(width=width, height=height, phone=True)
    url = await start_meeting(phone, "Design review with the whole team", "Ada")
    guest = await profiles.open()
    await join(guest, url, "Grace")
    phone_id, guest_id = await my_id(phone), await my_id(guest)
    await wait_for_video(phone, guest_id)
    await wait_for_video(guest, phone_id)

    # One bottom bar: microphone, camera, chat, people, more, leave — nothing on top of another.
    controls = await assert_controls_apart(phone, "meeting")
    names = {c["name"] for c in controls}
    for name in (
        "Turn off microphone",
        "Turn off camera",
        "Chat",
        "People: 2",
        "More options",
        "Leave meeting",
        "Copy link",
    ):
        assert name in names, names
    leave = await box(phone.get_by_test_id("leave"))
    assert leave["y"] + leave["height"] <= height and leave["y"] > height - 100, leave
    # The room's name and the link are at the top, legible and reachable.
    title = phone.get_by_role("heading", level=1)
    await expect(title).to_have_text("Design review with the whole team")
    assert (await box(title))["height"] >= 18
    await expect(phone.get_by_test_id("copy-link")).to_be_visible()
    # Your own video is a small overlay; Grace gets the screen.
    you = await box(phone.locator(".self-view [data-testid=tile]"))
    grace = await box(phone.locator(f"[data-testid=tile][data-participant-id='{guest_id}']"))
    assert you["width"] * you["height"] < 0.06 * width * height, you
    assert grace["width"] * grace["height"] > 4 * you["width"] * you["height"], grace
    await phone.screenshot(path=str(tmp_path / f"phone-{width}x{height}.png"))
    if AXE.is_file():
        assert not await serious_axe_findings(phone)

    # The more menu: its items apart, above the bar; Escape closes it, back to its button.
    more = phone.get_by_test_id("more")
    await more.click()
    await expect(phone.get_by_role("menuitem", name="Lock meeting")).to_be_visible()
    await assert_controls_apart(phone, "more menu")
    await phone.screenshot(path=str(tmp_path / f"phone-{width}x{height}-menu.png"))
    await phone.keyboard.press("Escape")
    await expect(phone.get_by_role("menu")).to_have_count(0)
    await expect(more).to_be_focused()

    # Chat is a full-screen sheet with the message box ready; closing returns to the bar.
    await phone.get_by_test_id("toggle-chat").click()
    sheet = phone.get_by_test_id("panel-chat")
    assert await box(sheet) == {"x": 0, "y": 0, "width": width, "height": height}
    await expect(phone.get_by_test_id("chat-input")).to_be_focused()
    await assert_controls_apart(phone, "chat sheet")
    await phone.screenshot(path=str(tmp_path / f"phone-{width}x{height}-chat.png"))
    await phone.get_by_test_id("panel-chat").get_by_role("button", name="Close").click()
    await expect(sheet).to_have_count(0)
    await expect(phone.get_by_test_id("toggle-chat")).to_be_focused()

    # The transcript (from the more menu) and people open as sheets too.
    await more.click()
    await phone.get_by_role("menuitem", name="Transcript").click()
    assert await box(phone.get_by_test_id("panel-transcript")) == {
        "x": 0,
        "y": 0,
        "width": width,
        "height": height,
    }
    await assert_controls_apart(phone, "transcript sheet")
    await phone.keyboard.press("Escape")
    await phone.get_by_test_id("toggle-people").click()
    await assert_controls_apart(phone, "people sheet")
    await phone.keyboard.press("Escape")
    await expect(phone.get_by_test_id("panel-people")).to_have_count(0)


async def test_no_controls_overlap_at_any_window_width(profiles: Profiles) -> None:
    """From a small phone to a laptop, through the widths where the layout changes."""
    page = await profiles.open()
    await start_meeting(page, "A meeting with a rather long title that has to give way", "Ada")
    for width, height in [
        (320, 640),
        (390, 844),
        (640, 900),
        (641, 900),
        (768, 1024),
        (900, 700),
        (901, 700),
        (1024, 700),
        (1280, 800),
        (1600, 900),
    ]:
        await page.set_viewport_size({"width": width, "height": height})
        # The layout has followed: the top strip up to 900 px, the phone bar up to 640 px.
        await expect(page.locator(".meeting-top")).to_have_count(1 if width <= 900 else 0)
        await expect(page.locator(".page.meeting.phone")).to_have_count(1 if width <= 640 else 0)
        await expect(page.get_by_role("heading", level=1)).to_be_visible()
        await assert_controls_apart(page, f"{width}x{height}")

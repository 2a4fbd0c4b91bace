"""What the browser tests of media failures, phones and accessibility share: browser profiles
with a chosen window, colour scheme and permissions; the controls a person can see and touch;
and axe-core run inside the page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ROOT, Server

AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
WAIT_MS = 15_000

Open = Callable[..., Awaitable[Any]]


class Profiles:
    """Fresh browser profiles (each its own identity), closed together; an uncaught error in
    any of their pages fails the test."""

    def __init__(self, browser: Any, server: Server) -> None:
        self.browser = browser
        self.server = server
        self.contexts: list[Any] = []
        self.errors: list[str] = []

    async def open(
        self,
        *,
        width: int = 1280,
        height: int = 800,
        phone: bool = False,
        scheme: str = "light",
        media: bool = True,
        browser: Any = None,
    ) -> Any:
        context = await (browser or self.browser).new_context(
            base_url=self.server.url,
            locale="en-US",
            viewport={"width": width, "height": height},
            color_scheme=scheme,
            is_mobile=phone,
            has_touch=phone,
            device_scale_factor=2 if phone else 1,
        )
        if media:
            await context.grant_permissions(["camera", "microphone"], origin=self.server.url)
        self.contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        return page

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()
        assert not self.errors, f"uncaught errors in the page: {self.errors}"


# Every control a person can see and reach: rendered, not transparent, and the topmost thing at
# its centre. A control whose centre another control covers is reported as overlapping it; one
# under a sheet, a menu or a dialog it is not part of is simply out of reach, and left out.
VISIBLE_CONTROLS = """() => {
  const selector = 'button, a[href], input, select, textarea, [role=button], [role^=menuitem]';
  const layers = '.side-panel, [role=menu], [role=dialog], [role=alertdialog]';
  const name = (el) => el.getAttribute('aria-label') || el.textContent.trim().slice(0, 40)
    || el.tagName;
  const controls = [];
  const covered = [];
  for (const el of document.querySelectorAll(selector)) {
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || Number(style.opacity) === 0) continue;
    const x = Math.min(Math.max(r.left + r.width / 2, 0), innerWidth - 1);
    const y = Math.min(Math.max(r.top + r.height / 2, 0), innerHeight - 1);
    const top = document.elementFromPoint(x, y);
    if (!top || !(el === top || el.contains(top))) {
      // Under a sheet, a menu or a dialog that el is not part of: out of reach, not overlapped.
      const layer = top && top.closest(layers);
      const other = top && top.closest(selector);
      if (other && !el.contains(other) && !(layer && !layer.contains(el)))
        covered.push([name(el), name(other)]);
      continue;
    }
    controls.push({
      name: name(el), left: r.left, top: r.top, right: r.right, bottom: r.bottom,
    });
  }
  return {controls, covered, width: innerWidth, height: innerHeight};
}"""


async def visible_controls(page: Any) -> tuple[list[dict[str, Any]], int, int]:
    seen: dict[str, Any] = await page.evaluate(VISIBLE_CONTROLS)
    assert not seen["covered"], f"controls covered by others: {seen['covered']}"
    return seen["controls"], seen["width"], seen["height"]


def overlapping(controls: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Pairs of controls whose boxes intersect (touching edges do not count)."""
    pairs = []
    for i, a in enumerate(controls):
        for b in controls[i + 1 :]:
            width = min(a["right"], b["right"]) - max(a["left"], b["left"])
            height = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
            if width > 0.5 and height > 0.5:
                pairs.append((a["name"], b["name"]))
    return pairs


def outside(controls: list[dict[str, Any]], width: int, height: int) -> list[str]:
    """Controls cut off by the edge of the window."""
    return [
        c["name"]
        for c in controls
        if c["left"] < -0.5
        or c["top"] < -0.5
        or c["right"] > width + 0.5
        or c["bottom"] > height + 0.5
    ]


def require_axe() -> None:
    if not AXE.is_file():
        pytest.skip("axe-core is not installed: run `cd web && npm ci`")


async def serious_axe_findings(page: Any) -> list[str]:
    """axe-core's WCAG 2 A/AA findings of serious or critical impact on the page as it is."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    results: dict[str, Any] = await page.evaluate(
        """() => axe.run(document, {
             runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
             resultTypes: ['violations'],
           })"""
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def screenshot_path(tmp_path: Path, name: str) -> str:
    return str(tmp_path / f"{name}.png")

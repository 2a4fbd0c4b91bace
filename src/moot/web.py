"""Serving the built web client: files from its dist directory, and the SPA's index.html for
every other page path (`/r/abc-defg-hij`), so deep links work on reload.

Hashed build assets (`/assets/*`) are cached for a year and marked immutable; everything else,
index.html first, is revalidated on every load so a deploy shows up at once.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Router, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import File

from moot.settings import Settings

# Paths that belong to the server, never to the SPA: a miss there is a JSON 404.
_SERVER_PREFIXES = ("api/", "ws/", "docs", "metrics", "health", "ready")
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def web_root(settings: Settings) -> Path | None:
    """The client's build: MOOT_WEB_DIR, else inside the installed package, else the
    checkout's web/dist. None when there is no build (the API still runs)."""
    candidates = (
        [Path(settings.web_dir)]
        if settings.web_dir
        else [
            Path(__file__).resolve().parent / "web_dist",
            Path(__file__).resolve().parents[2] / "web" / "dist",
        ]
    )
    for candidate in candidates:
        if (candidate / "index.html").is_file():
            return candidate.resolve()
    return None


def web_router(root: Path) -> Router:
    index = root / "index.html"

    def serve(path: Path, cache: str) -> File:
        return File(
            path,
            filename=path.name,
            content_disposition_type="inline",
            headers={"Cache-Control": cache},
        )

    @get("/", include_in_schema=False, sync_to_thread=False)
    def home() -> File:
        return serve(index, REVALIDATE)

    @get("/{path:path}", include_in_schema=False, sync_to_thread=False)
    def page(path: FromPath[str]) -> File:
        relative = path.lstrip("/")
        if relative.startswith(_SERVER_PREFIXES):
            raise NotFoundException()
        candidate = (root / relative).resolve()
        if candidate.is_relative_to(root) and candidate.is_file():
            return serve(candidate, IMMUTABLE if relative.startswith("assets/") else REVALIDATE)
        if "." in relative.rsplit("/", 1)[-1]:
            raise NotFoundException()  # a missing file, not a page
        return serve(index, REVALIDATE)

    return Router(path="/", route_handlers=[home, page])

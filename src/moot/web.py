"""Serving the built web client: files from its dist directory, and the SPA's index.html for
every other page path (`/r/abc-defg-hij`), so deep links work on reload.

Hashed build assets (`/assets/*`) are cached for a year and marked immutable; everything else,
index.html first, is revalidated on every load so a deploy shows up at once.

The build writes a Brotli (`.br`) and a gzip (`.gz`) copy beside every file worth compressing
(web/vite.config.ts); a browser that accepts one gets it, so nothing is compressed per request.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from litestar import Request, Router, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import File

from moot.settings import Settings

# Paths that belong to the server, never to the SPA: a miss there is a JSON 404.
_SERVER_PREFIXES = ("api/", "ws/", "docs", "metrics", "health", "ready")
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# The precompressed copies the build writes, best first: (Content-Encoding, file suffix).
_ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
mimetypes.add_type("application/manifest+json", ".webmanifest")


def accepted_encodings(header: str) -> set[str]:
    """The content codings an Accept-Encoding header allows (`q=0` refuses one)."""
    accepted = set()
    for item in header.split(","):
        name, _, params = item.partition(";")
        quality = params.strip().removeprefix("q=")
        try:
            refused = bool(quality) and float(quality) == 0
        except ValueError:
            refused = False
        if name.strip() and not refused:
            accepted.add(name.strip().lower())
    return accepted


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

    def serve(request: Request[Any, Any, Any], path: Path, cache: str) -> File:
        headers = {"Cache-Control": cache, "Vary": "Accept-Encoding"}
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        accepted = accepted_encodings(request.headers.get("accept-encoding", ""))
        body = path
        for encoding, suffix in _ENCODINGS:
            compressed = path.with_name(path.name + suffix)
            if encoding in accepted and compressed.is_file():
                body = compressed
                headers["Content-Encoding"] = encoding
                break
        return File(
            body,
            filename=path.name,
            media_type=media_type,
            content_disposition_type="inline",
            headers=headers,
        )

    @get("/", include_in_schema=False, sync_to_thread=False)
    def home(request: Request[Any, Any, Any]) -> File:
        return serve(request, index, REVALIDATE)

    @get("/{path:path}", include_in_schema=False, sync_to_thread=False)
    def page(request: Request[Any, Any, Any], path: FromPath[str]) -> File:
        relative = path.lstrip("/")
        if relative.startswith(_SERVER_PREFIXES):
            raise NotFoundException()
        candidate = (root / relative).resolve()
        if candidate.is_relative_to(root) and candidate.is_file():
            cache = IMMUTABLE if relative.startswith("assets/") else REVALIDATE
            return serve(request, candidate, cache)
        if "." in relative.rsplit("/", 1)[-1]:
            raise NotFoundException()  # a missing file, not a page
        return serve(request, index, REVALIDATE)

    return Router(path="/", route_handlers=[home, page])

"""moot serves the built web client: files, SPA deep links, cache headers; the API wins."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import MootFactory


def build(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><div id=root></div>")
    (dist / "assets" / "index-3f9a1c.js").write_text("console.log('moot')")
    (dist / "favicon.svg").write_text("<svg/>")
    return dist


async def test_pages_get_the_spa_and_assets_are_cached_for_good(
    moot_factory: MootFactory, tmp_path: Path
) -> None:
    moot = await moot_factory(web_dir=str(build(tmp_path)))
    for path in ("/", "/r/abc-defg-hij", "/settings/theme"):
        page = await moot.http.get(path)
        assert page.status_code == 200, path
        assert page.text.startswith("<!doctype html>")
        assert page.headers["cache-control"] == "no-cache"
        assert page.headers["content-type"].startswith("text/html")
    asset = await moot.http.get("/assets/index-3f9a1c.js")
    assert asset.status_code == 200 and "moot" in asset.text
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert (await moot.http.get("/favicon.svg")).headers["cache-control"] == "no-cache"


async def test_the_api_and_missing_files_are_never_answered_with_the_spa(
    moot_factory: MootFactory, tmp_path: Path
) -> None:
    moot = await moot_factory(web_dir=str(build(tmp_path)))
    assert (await moot.http.get("/health")).json() == {"status": "ok"}
    assert (await moot.http.post("/api/v1/identity")).status_code == 201
    (tmp_path / "secret.txt").write_text("not for the web")
    for path in (
        "/api/v1/nothing-here",
        "/assets/missing-1234.js",
        "/ws/nope",
        "/assets/..%2f..%2fsecret.txt",
        "/%2e%2e/secret.txt",
    ):
        response = await moot.http.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"
    assert (await moot.http.get("/docs/openapi.json")).status_code == 200


async def test_without_a_build_only_the_api_is_served(
    moot_factory: MootFactory, tmp_path: Path
) -> None:
    moot = await moot_factory(web_dir=str(tmp_path / "no-build"))
    assert (await moot.http.get("/")).status_code == 404
    assert (await moot.http.post("/api/v1/identity")).status_code == 201


async def test_a_browser_that_accepts_brotli_or_gzip_gets_the_precompressed_copy(
    moot_factory: MootFactory, tmp_path: Path
) -> None:
    dist = build(tmp_path)
    script = dist / "assets" / "index-3f9a1c.js"
    body = b"console.log('moot');\n" * 200
    script.write_bytes(body)
    (dist / "assets" / "index-3f9a1c.js.br").write_bytes(brotli_stand_in := b"br:" + body[:10])
    (dist / "assets" / "index-3f9a1c.js.gz").write_bytes(gzip.compress(body))
    (dist / "index.html.gz").write_bytes(gzip.compress((dist / "index.html").read_bytes()))
    moot = await moot_factory(web_dir=str(dist))

    async def fetch(path: str, accept: str) -> tuple[httpx.Headers, bytes]:
        # The bytes as sent: httpx would otherwise decode (and choke on) what it receives.
        request = moot.http.build_request("GET", path, headers={"Accept-Encoding": accept})
        response = await moot.http.send(request, stream=True)
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
        return response.headers, raw

    headers, raw = await fetch("/assets/index-3f9a1c.js", "gzip, deflate, br")
    assert headers["content-encoding"] == "br"
    assert raw == brotli_stand_in
    assert headers["vary"] == "Accept-Encoding"
    assert headers["content-type"].startswith("text/javascript")
    assert headers["cache-control"] == "public, max-age=31536000, immutable"

    headers, raw = await fetch("/assets/index-3f9a1c.js", "gzip, br;q=0")
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == body

    headers, raw = await fetch("/assets/index-3f9a1c.js", "identity")
    assert "content-encoding" not in headers
    assert raw == body

    headers, raw = await fetch("/r/abc-defg-hij", "gzip")  # a deep link: index.html, gzipped
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw).startswith(b"<!doctype html>")
    assert headers["content-type"].startswith("text/html")


def test_the_build_ships_compressed_copies_a_shell_and_a_manifest() -> None:
    dist = Path(__file__).resolve().parents[1] / "web" / "dist"
    if not (dist / "index.html").is_file():
        pytest.skip("web/dist is not built (scripts/dev test builds it before pytest)")
    scripts = list((dist / "assets").glob("index-*.js"))
    assert scripts, "the build has no entry script"
    for script in scripts:
        assert (script.parent / (script.name + ".br")).stat().st_size < script.stat().st_size / 2
        assert gzip.decompress((script.parent / (script.name + ".gz")).read_bytes()) == (
            script.read_bytes()
        )
    index = (dist / "index.html").read_text(encoding="utf-8")
    assert "<h1>moot</h1>" in index  # visible before the script has arrived
    assert 'rel="manifest"' in index
    manifest = json.loads((dist / "manifest.webmanifest").read_text(encoding="utf-8"))
    assert manifest["display"] == "standalone"
    for icon in manifest["icons"]:
        assert (dist / icon["src"].lstrip("/")).is_file()

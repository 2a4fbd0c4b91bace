"""moot serves the built web client: files, SPA deep links, cache headers; the API wins."""

from __future__ import annotations

from pathlib import Path

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

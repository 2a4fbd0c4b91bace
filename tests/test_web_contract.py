"""The web client's copies of moot's contracts are current: the OpenAPI schema, the TypeScript
types generated from it, and the WebSocket close codes. `scripts/dev gen` refreshes all three."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from moot.openapi import close_codes_ts, openapi_json

WEB = Path(__file__).resolve().parents[1] / "web"
REFRESH = "run `scripts/dev gen` and commit the result"


def test_the_committed_openapi_schema_is_the_one_moot_serves() -> None:
    committed = (WEB / "openapi.json").read_text(encoding="utf-8")
    assert committed == openapi_json(), f"web/openapi.json is out of date: {REFRESH}"


def test_the_committed_api_types_are_generated_from_the_committed_schema(tmp_path: Path) -> None:
    generator = WEB / "node_modules" / ".bin" / "openapi-typescript"
    if not generator.exists():
        pytest.skip("web/node_modules is missing (run `cd web && npm ci`): schema.d.ts unchecked")
    if shutil.which("node") is None:
        pytest.skip("node is not installed: cannot run openapi-typescript")
    fresh = tmp_path / "schema.d.ts"
    subprocess.run(
        [str(generator), "openapi.json", "-o", str(fresh)], cwd=WEB, check=True, capture_output=True
    )
    committed = (WEB / "src" / "schema.d.ts").read_text(encoding="utf-8")
    assert committed == fresh.read_text(encoding="utf-8"), (
        f"web/src/schema.d.ts is out of date: {REFRESH}"
    )


def test_the_web_client_knows_every_close_code_moot_sends() -> None:
    committed = (WEB / "src" / "closeCodes.ts").read_text(encoding="utf-8")
    assert committed == close_codes_ts(), f"web/src/closeCodes.ts is out of date: {REFRESH}"

"""What the web client is generated from: the API's OpenAPI schema and the WebSocket close codes.

`python -m moot.openapi` prints the schema (web/openapi.json); `python -m moot.openapi
close-codes` prints web/src/closeCodes.ts. `scripts/dev gen` writes both.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from moot.app import create_app
from moot.realtime.close_codes import CloseCode
from moot.settings import Settings


def openapi_json() -> str:
    """The schema of the API `moot serve` runs with default settings, as stable JSON.

    Building the app opens nothing: the stores are connected by its lifespan, which is not run.
    """
    app = create_app(Settings(), database_url="", redis_url="", secret_key="x" * 32)
    return json.dumps(app.openapi_schema.to_schema(), indent=2, sort_keys=True) + "\n"


def close_codes_ts() -> str:
    """CloseCode as a TypeScript constant, so the client names the codes the server sends."""
    entries = "".join(f"  {code.name}: {code.value},\n" for code in CloseCode)
    return (
        "// Generated from src/moot/realtime/close_codes.py by `scripts/dev gen`; do not edit.\n"
        "// The WebSocket close codes moot sends.\n"
        f"export const CloseCode = {{\n{entries}}} as const;\n"
        "\n"
        "export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];\n"
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["close-codes"]:
        sys.stdout.write(close_codes_ts())
    elif not args:
        sys.stdout.write(openapi_json())
    else:
        sys.exit("usage: python -m moot.openapi [close-codes]")


if __name__ == "__main__":
    main()

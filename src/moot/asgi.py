"""An ASGI entry point for servers that import the app themselves (granian).

`moot serve` resolves the stores (starting embedded ones if needed) and puts the URLs and the
secret in the environment before the server imports `moot.asgi:app_from_env` in its worker.
"""

from __future__ import annotations

import os

from litestar.types import ASGIApp

from moot.app import Component, asgi_app, create_app
from moot.infra.logging import configure_logging
from moot.settings import load_settings


def app_from_env() -> ASGIApp:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    component: Component = os.environ.get("MOOT_COMPONENT", "all")  # type: ignore[assignment]
    app = create_app(
        settings,
        database_url=os.environ["MOOT_DATABASE_URL"],
        redis_url=os.environ["MOOT_REDIS_URL"],
        secret_key=os.environ["MOOT_SECRET_KEY"],
        component=component,
    )
    return asgi_app(app)

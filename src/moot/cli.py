"""`moot serve | worker | migrate | cleanup | turn-probe`: the one entry point operators use."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import structlog

from moot.infra.embedded import EmbeddedServices
from moot.infra.logging import configure_logging
from moot.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from moot.app import Component

log = structlog.get_logger("moot")


@dataclass(frozen=True)
class Stores:
    database_url: str
    redis_url: str
    secret_key: str


def _secret_key(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    if not settings.embedded:
        raise ConfigError(
            "MOOT_SECRET_KEY is not set. With MOOT_DATABASE_URL and MOOT_REDIS_URL pointing at "
            "shared services, every instance must sign identities with the same key: set "
            "MOOT_SECRET_KEY (at least 32 characters) in .env.local or the environment."
        )
    # A laptop run keeps its generated key next to its data, so identities survive restarts.
    path = settings.data_path() / "secret.key"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key, encoding="utf-8")
    return key


@contextlib.contextmanager
def stores(settings: Settings, *, supervise: bool = False) -> Iterator[Stores]:
    """The store URLs to use, starting embedded PostgreSQL/Valkey for whichever is unset
    (`supervise`: and restarting them if they die, for as long as the block runs)."""
    embedded: EmbeddedServices | None = None
    database_url, redis_url = settings.database_url, settings.redis_url
    if settings.embedded:
        embedded = EmbeddedServices(settings.data_path())
        try:
            embedded.start(postgres=not database_url, redis=not redis_url)
        except Exception:
            embedded.stop()
            raise
        database_url = database_url or embedded.database_url
        redis_url = redis_url or embedded.redis_url
        if supervise:
            embedded.supervise()
    try:
        yield Stores(database_url, redis_url, _secret_key(settings))
    finally:
        if embedded is not None:
            embedded.stop()


def cmd_serve(settings: Settings) -> int:
    return _run(settings, "all", settings.port)


def cmd_worker(settings: Settings, port: int | None) -> int:
    return _run(settings, "worker", port if port is not None else settings.worker_port)


def _preload(*modules: str) -> threading.Thread:
    """Import modules on a thread while the embedded servers start. initdb and pg_ctl run in
    processes of their own, so the app's imports (most of a second of CPU) overlap them
    instead of coming after: part of a cold start under 3 s (README, Performance)."""

    def load() -> None:
        for name in modules:
            importlib.import_module(name)

    thread = threading.Thread(target=load, name="moot-preload", daemon=True)
    thread.start()
    return thread


def _run(settings: Settings, component: Component, port: int) -> int:
    preload = _preload("uvicorn", "moot.app")
    with stores(settings, supervise=True) as found:
        preload.join()
        import uvicorn

        from moot.app import asgi_app, create_app
        from moot.infra.postgres import migrate_url
        from moot.infra.server import with_request_deadline

        applied = asyncio.run(migrate_url(found.database_url))
        log.info("migrations_checked", applied=applied)
        app = create_app(
            settings,
            database_url=found.database_url,
            redis_url=found.redis_url,
            secret_key=found.secret_key,
            component=component,
        )
        # The port alone: no address in any log line (README, Operations: What is logged).
        log.info("moot_listening", component=component, port=port, embedded=settings.embedded)
        if settings.server == "granian":
            _run_granian(settings, found, component, port)
            return 0
        # uvicorn shuts down gracefully on SIGTERM/SIGINT and then re-raises the signal; with
        # these no-op handlers in place that re-raise returns here, so the embedded services
        # are stopped below and the exit code is 0.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: None)
        uvicorn.run(
            asgi_app(app),
            host=settings.host,
            port=port,
            proxy_headers=True,
            forwarded_allow_ips=settings.forwarded_allow_ips,
            log_config=None,
            access_log=False,
            server_header=False,
            http=with_request_deadline(settings.http_request_timeout_seconds),
            timeout_graceful_shutdown=10,
            # Frames beyond our own limit get an error event; far beyond it, uvicorn closes 1009.
            ws_max_size=max(
                4 * settings.ws_max_frame_bytes, 2 * settings.transcription_chunk_max_bytes
            ),
            # Chat frames are a few hundred bytes: compressing each one for every socket cost
            # a quarter of the fan-out CPU for little saving (README, Performance).
            ws_per_message_deflate=settings.ws_compression,
        )
    return 0


def _run_granian(settings: Settings, found: Stores, component: Component, port: int) -> None:
    """granian imports the app in its own worker process: hand it the resolved stores."""
    import os

    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    os.environ.update(
        MOOT_DATABASE_URL=found.database_url,
        MOOT_REDIS_URL=found.redis_url,
        MOOT_SECRET_KEY=found.secret_key,
        MOOT_COMPONENT=component,
    )
    Granian(
        "moot.asgi:app_from_env",
        factory=True,
        interface=Interfaces.ASGI,
        address=settings.host,
        port=port,
        workers=1,
        websockets=True,
        log_enabled=False,
        # granian's own clock covers the request head only (hyper's header_read_timeout).
        http1_settings=HTTP1Settings(
            header_read_timeout=round(settings.http_request_timeout_seconds * 1000)
        ),
    ).serve()


def cmd_migrate(settings: Settings) -> int:
    from moot.infra.postgres import migrate_url

    with stores(settings) as found:
        applied = asyncio.run(migrate_url(found.database_url))
    print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))
    return 0


def cmd_cleanup(settings: Settings) -> int:
    from moot.infra.postgres import migrate_url
    from moot.services import build_services, open_stores

    async def once(found: Stores) -> None:
        await migrate_url(found.database_url)
        # The same pass as in `moot serve`: whoever is still connected to a room it ended
        # hears so, its LiveKit room closes, a deleted room's chat goes with it.
        async with (
            open_stores(settings, found.database_url, found.redis_url) as opened,
            build_services(
                settings, opened, secret_key=found.secret_key, with_sockets=False
            ) as services,
        ):
            report = await services.rooms.clean_up()
        print(msgspec.json.encode(report).decode())

    with stores(settings) as found:
        asyncio.run(once(found))
    return 0


def cmd_turn_probe(settings: Settings, args: argparse.Namespace) -> int:
    """Probe the TURN servers: 0 if every one passed, 1 if any failed. No stores needed."""
    from moot.media.turn_probe import format_report, probe, probe_targets

    if args.interval is not None and args.interval <= 0:
        raise ConfigError("--interval must be a positive number of seconds")
    if not probe_targets(settings, args.url):
        raise ConfigError(
            "no TURN servers to probe: set MOOT_TURN_SERVERS and MOOT_TURN_SECRET, give "
            "MOOT_TURN_FALLBACK_SERVERS entries a username and credential, or pass --url"
        )

    async def run() -> int:
        while True:
            # Fresh credentials each pass: a long-running sidecar would outlive them.
            targets = probe_targets(settings, args.url)
            results = await probe(targets, settings.turn_probe_timeout_seconds)
            passed = all(result.passed for result in results)
            if args.json:
                report = msgspec.json.encode({"passed": passed, "results": results}).decode()
            else:
                report = format_report(results)
            print(report, flush=True)
            if args.interval is None:
                return 0 if passed else 1
            await asyncio.sleep(args.interval)

    return asyncio.run(run())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moot", description=__doc__)
    parser.add_argument(
        "--env-dir",
        type=Path,
        default=None,
        help="directory holding .env and .env.local (default: current)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API (and embedded services if no URLs)")
    serve.add_argument("--host", default=None, help="listen address (MOOT_HOST)")
    serve.add_argument("--port", type=int, default=None, help="listen port (MOOT_PORT)")
    serve.add_argument("--data-dir", default=None, help="embedded services' data (MOOT_DATA_DIR)")
    worker = commands.add_parser(
        "worker", help="run the transcription worker alone (audio in, Gladia, transcripts out)"
    )
    worker.add_argument("--host", default=None, help="listen address (MOOT_HOST)")
    worker.add_argument(
        "--port",
        dest="worker_listen_port",
        type=int,
        default=None,
        help="listen port (MOOT_WORKER_PORT, 8001)",
    )
    worker.add_argument("--data-dir", default=None, help="embedded services' data (MOOT_DATA_DIR)")
    commands.add_parser("migrate", help="apply pending database migrations")
    commands.add_parser("cleanup", help="end idle/expired rooms and purge old personal data")
    turn = commands.add_parser(
        "turn-probe", help="check that the TURN servers answer and accept our credentials"
    )
    turn.add_argument(
        "--url",
        metavar="URL",
        action="append",
        default=[],
        help="probe this turn:/turns: URL too, with the TURN secret (repeatable)",
    )
    turn.add_argument(
        "--secret",
        dest="turn_secret",
        metavar="SECRET",
        default=None,
        help="coturn's static-auth-secret (MOOT_TURN_SECRET; the environment keeps it out of ps)",
    )
    turn.add_argument(
        "--timeout",
        dest="turn_probe_timeout_seconds",
        metavar="SECONDS",
        type=float,
        default=None,
        help="seconds to wait for each step (MOOT_TURN_PROBE_TIMEOUT_SECONDS)",
    )
    turn.add_argument("--json", action="store_true", help="print one JSON object per run")
    turn.add_argument(
        "--interval",
        metavar="SECONDS",
        type=float,
        default=None,
        help="keep probing, every SECONDS (for a sidecar); stop with Ctrl-C",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "data_dir": getattr(args, "data_dir", None),
        "turn_secret": getattr(args, "turn_secret", None),
        "turn_probe_timeout_seconds": getattr(args, "turn_probe_timeout_seconds", None),
    }
    try:
        settings = load_settings(env_dir=args.env_dir, **overrides)
    except ConfigError as exc:
        print(f"moot: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    commands: dict[str, Callable[[Settings], int]] = {
        "serve": cmd_serve,
        "worker": lambda settings: cmd_worker(settings, args.worker_listen_port),
        "migrate": cmd_migrate,
        "cleanup": cmd_cleanup,
        "turn-probe": lambda settings: cmd_turn_probe(settings, args),
    }
    try:
        return commands[args.command](settings)
    except ConfigError as exc:
        print(f"moot: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

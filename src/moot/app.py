"""Build the Litestar app from settings: stores, services, routes, errors, observability."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal, cast

import structlog
from litestar import Litestar, Request, Response
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from moot import __version__
from moot.accounts.api import (
    AccountController,
    PasswordResetController,
    SessionController,
    provide_account,
)
from moot.channels.api import ChannelController, SpaceChannelController
from moot.chat.api import ChatController
from moot.errors import ERRORS, ErrorCode, MootError, is_store_outage
from moot.http import MootRequest, provide_room_id
from moot.identity.api import (
    ISSUED_IDENTITY_KEY,
    PARTICIPANT_HEADER,
    create_identity,
    provide_participant,
)
from moot.infra.metrics import Metrics
from moot.media.api import MediaController
from moot.media.stun import start_stun_server
from moot.media.turn_probe import probe_forever
from moot.ops.api import health, metrics, ready
from moot.realtime.api import gateway_socket, gateway_ticket
from moot.rooms.api import RoomController, room_socket
from moot.rooms.cleanup import cleanup_forever
from moot.services import Services, build_services, open_stores, provide_services
from moot.settings import Settings
from moot.spaces.api import InviteController, SpaceController, me
from moot.transcription.api import TranscriptionController, transcribe_socket
from moot.web import web_root, web_router

log = structlog.get_logger("moot.http")

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


# -- errors --------------------------------------------------------------------------------


def _error_response(
    code: ErrorCode,
    message: str | None = None,
    status: int | None = None,
    headers: dict[str, str] | None = None,
    **details: Any,
) -> Response[Any]:
    default_status, default_message = ERRORS[code]
    return Response(
        {"code": code, "message": message or default_message, **details},
        status_code=status or default_status,
        headers=headers,
    )


def _on_moot_error(_: Request[Any, Any, Any], exc: MootError) -> Response[Any]:
    return Response(exc.body(), status_code=exc.status_code, headers=exc.headers or None)


def _on_validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    problems = [
        {k: v for k, v in item.items() if k in ("key", "message", "source")}
        for item in extra
        if isinstance(item, dict)
    ]
    malformed = any("malformed" in str(p.get("message", "")).lower() for p in problems) or (
        not problems and "decode" in exc.detail.lower()
    )
    if malformed:
        return _error_response(
            "invalid_request", "The request body is not valid JSON.", errors=problems
        )
    return _error_response(
        "validation_failed",
        "; ".join(str(p.get("message")) for p in problems) or exc.detail,
        errors=problems,
    )


def _on_http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, NotFoundException):
        return _error_response("not_found")
    if isinstance(exc, MethodNotAllowedException):
        return _error_response("method_not_allowed")
    if exc.status_code >= 500:
        return _error_response("internal_error")
    return _error_response("invalid_request", exc.detail, status=exc.status_code)


def _on_unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # The route template, as in the `request` line: a path holds room codes.
    route = request.scope.get("path_template") or "unmatched"
    if is_store_outage(exc):
        log.error("backing_service_unavailable", error=type(exc).__name__, route=route)
        return _error_response("service_unavailable")
    log.exception("unhandled_error", route=route)
    return _error_response("internal_error")


# -- request middleware --------------------------------------------------------------------


# The status logged and counted for a request whose client left before any response.
CLIENT_CLOSED = 499


def request_middleware(metrics: Metrics) -> Callable[[ASGIApp], ASGIApp]:
    """Request id, access log line, Prometheus counters, and a freshly issued identity's header.

    Pure ASGI: it wraps `send` instead of building Request objects, so it costs little.
    """

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == ScopeType.WEBSOCKET:
                await _logged_socket(app, scope, receive, send)
                return
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
            request_id = incoming if _SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
            started = time.perf_counter()
            status = 500
            gone = False  # the client went away before any response started

            async def receive_wrapper() -> ReceiveMessage:
                nonlocal gone
                message = await receive()
                if message["type"] == "http.disconnect" and status == 500:
                    gone = True
                return message

            async def send_wrapper(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    # After the client left, the framework answers an error nobody reads:
                    # the line says the client closed (499, as nginx logs it), not a 500.
                    status = CLIENT_CLOSED if gone else message["status"]
                    headers = list(message.get("headers", []))
                    headers.append((REQUEST_ID_HEADER.lower().encode(), request_id.encode()))
                    issued = cast(dict[str, Any], scope).get(ISSUED_IDENTITY_KEY)
                    if issued is not None:
                        headers.append((PARTICIPANT_HEADER.lower().encode(), issued.token.encode()))
                        headers.append(
                            (b"x-participant-public-id", str(issued.participant_id).encode())
                        )
                    message["headers"] = headers
                await send(message)

            with structlog.contextvars.bound_contextvars(request_id=request_id):
                try:
                    await app(scope, receive_wrapper, send_wrapper)
                finally:
                    if gone:
                        status = CLIENT_CLOSED
                    elapsed = time.perf_counter() - started
                    route = scope.get("path_template") or "unmatched"
                    method = scope["method"]
                    metrics.http_requests.labels(method, route, str(status)).inc()
                    metrics.http_latency.labels(method, route).observe(elapsed)
                    log.info(
                        "request",
                        method=method,
                        route=route,
                        status=status,
                        ms=round(elapsed * 1000, 2),
                    )

        return middleware

    return factory


async def _logged_socket(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """One `websocket` line per socket when it ends: route template, whether it was accepted,
    the close code and who closed, its length. Never the path's query (`?token=`, `?ticket=`)
    nor the client's address, which the server's own WebSocket line would print."""
    started = time.perf_counter()
    accepted = False
    code: int | None = None
    closed_by: str | None = None

    async def receive_wrapper() -> ReceiveMessage:
        nonlocal code, closed_by
        message = await receive()
        if message["type"] == "websocket.disconnect" and closed_by is None:
            code, closed_by = message.get("code", 1005), "client"
        return message

    async def send_wrapper(message: Message) -> None:
        nonlocal accepted, code, closed_by
        if message["type"] == "websocket.accept":
            accepted = True
        elif message["type"] == "websocket.close" and closed_by is None:
            code, closed_by = message.get("code", 1000), "server"
        await send(message)

    try:
        await app(scope, receive_wrapper, send_wrapper)
    finally:
        log.info(
            "websocket",
            route=scope.get("path_template") or "unmatched",
            accepted=accepted,
            code=code,
            closed_by=closed_by,
            seconds=round(time.perf_counter() - started, 1),
        )


# -- app -----------------------------------------------------------------------------------


Component = Literal["all", "api", "worker"]


def cors_config(origins: str) -> CORSConfig | None:
    """Browsers on these origins may call the API and read the headers it sends back."""
    allowed = [origin.strip().rstrip("/") for origin in origins.split(",") if origin.strip()]
    if not allowed:
        return None
    return CORSConfig(
        allow_origins=allowed,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Content-Type", "Authorization", PARTICIPANT_HEADER, REQUEST_ID_HEADER],
        allow_credentials=True,  # the session cookie of a signed-in browser
        expose_headers=[
            PARTICIPANT_HEADER,
            "X-Participant-Public-ID",
            REQUEST_ID_HEADER,
            "Retry-After",
        ],
        max_age=600,
    )


def create_app(
    settings: Settings,
    *,
    database_url: str,
    redis_url: str,
    secret_key: str,
    component: Component = "all",
) -> Litestar:
    """The API, the transcription worker, or both (`all`: the worker only if
    `worker_embedded`). Every component serves /health, /ready and /metrics. Serve it
    through `asgi_app`, which adds the request middleware."""
    metrics_registry = Metrics()
    with_worker = component == "worker" or (component == "all" and settings.worker_embedded)
    with_api = component != "worker"

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with (
            open_stores(settings, database_url, redis_url) as stores,
            build_services(
                settings,
                stores,
                secret_key=secret_key,
                metrics=metrics_registry,
                with_worker=with_worker,
            ) as services,
        ):
            app.state.services = services
            _watch_gauges(services)
            background = _background_tasks(services, with_api=with_api)
            stun = await _start_stun(settings) if with_api and settings.stun_port else None
            try:
                yield
            finally:
                if stun is not None:
                    stun.close()
                for task in background:
                    task.cancel()
                for task in background:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    api_routes: list[Any] = [
        create_identity,
        AccountController,
        SessionController,
        PasswordResetController,
        me,
        SpaceController,
        InviteController,
        SpaceChannelController,
        ChannelController,
        RoomController,
        ChatController,
        room_socket,
        gateway_ticket,
        gateway_socket,
        MediaController,
        TranscriptionController,
    ]
    app = Litestar(
        route_handlers=[
            health,
            ready,
            metrics,
            *(api_routes if with_api else []),
            *([transcribe_socket] if with_worker else []),
            *([web_router(root)] if with_api and (root := web_root(settings)) else []),
        ],
        lifespan=[lifespan],
        request_class=MootRequest,
        cors_config=cors_config(settings.cors_origins),
        state=State({"metrics": metrics_registry, "settings": settings}),
        dependencies={
            "services": Provide(provide_services, sync_to_thread=False),
            "participant": Provide(provide_participant),
            "account": Provide(provide_account),
            "room_id": Provide(provide_room_id),
        },
        exception_handlers={
            MootError: _on_moot_error,
            ValidationException: _on_validation_error,
            HTTPException: _on_http_error,
            Exception: _on_unexpected_error,
        },
        openapi_config=OpenAPIConfig(
            title="moot",
            version=__version__,
            description="Anonymous, ephemeral meetings. Errors are `{code, message, ...}`.",
            path="/docs",
            render_plugins=[SwaggerRenderPlugin(path="/"), JsonRenderPlugin(path="/openapi.json")],
        ),
        logging_config=None,
        debug=False,
    )
    return app


def asgi_app(app: Litestar) -> ASGIApp:
    """The app as servers run it. The request middleware wraps the whole app rather than
    being listed in `middleware=`, so it also sees the requests that match no route
    (404/405): they get a request id, a log line and a metric."""
    metrics_registry: Metrics = app.state["metrics"]
    return request_middleware(metrics_registry)(app)


async def _start_stun(settings: Settings) -> asyncio.DatagramTransport | None:
    """moot's STUN server; a port already taken (another moot on this host, a coturn) is
    logged and skipped: browsers then rely on the other STUN and TURN servers configured."""
    try:
        transport, _ = await start_stun_server(settings.host, settings.stun_port)
    except OSError as exc:
        log.warning("stun_not_started", port=settings.stun_port, error=exc.strerror)
        return None
    return transport


def _watch_gauges(services: Services) -> None:
    pool, hub, metrics_registry = services.pool, services.hub, services.metrics

    async def refresh_gauges() -> None:
        metrics_registry.db_pool_size.set(pool.get_size())
        metrics_registry.db_pool_idle.set(pool.get_idle_size())
        metrics_registry.db_pool_max.set(pool.get_max_size())
        rooms_active, participants_active = await services.rooms.count_activity()
        metrics_registry.rooms_active.set(rooms_active)
        metrics_registry.participants_active.set(participants_active)
        metrics_registry.websockets_open.set(hub.connection_count)

    metrics_registry.on_scrape(refresh_gauges)


def _background_tasks(services: Services, *, with_api: bool) -> list[asyncio.Task[None]]:
    settings, rooms = services.settings, services.rooms
    tasks: list[asyncio.Task[None]] = []
    if settings.cleanup_enabled:
        metrics = services.metrics
        cleanup = cleanup_forever(settings.rooms(), metrics, lambda: rooms.clean_up(metrics))
        tasks.append(asyncio.create_task(cleanup, name="moot-cleanup"))
    if with_api and services.presence.enabled:
        sweeper = services.presence.sweep_forever(rooms.gone)
        tasks.append(asyncio.create_task(sweeper, name="moot-presence"))
    if settings.turn_probe_interval_seconds > 0 and settings.turn_servers:
        probe = probe_forever(settings, services.metrics)
        tasks.append(asyncio.create_task(probe, name="moot-turn-probe"))
    return tasks

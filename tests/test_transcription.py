"""Live transcription end to end: control API, the worker socket, Gladia (a loopback stand-in
speaking its live v2 protocol), transcripts on everyone's room socket, batches in PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from moot.transcription.tokens import WorkerTokens
from tests.conftest import SECRET, Guest, LiveMoot, MootFactory
from tests.gladia_standin import GladiaStandIn, GladiaState
from tests.processes import start_moot, wait_ready
from tests.test_chat_ws import closed_with, next_of, socket

LiveFactory = Callable[..., Awaitable[LiveMoot]]
SECOND = 32_000  # bytes of PCM16 mono 16 kHz audio


@pytest.fixture
async def gladia() -> AsyncIterator[GladiaState]:
    async with GladiaStandIn() as state:
        yield state


def gladia_settings(gladia: GladiaState, **overrides: Any) -> dict[str, Any]:
    return {
        "gladia_base_url": gladia.base_url,
        "gladia_api_key": gladia.api_key,
        "gladia_timeout_seconds": 5.0,
        "transcript_flush_interval_ms": 50,
        **overrides,
    }


async def meeting(live: LiveMoot) -> tuple[dict[str, Any], Guest, Guest]:
    host, guest = await live.guest(), await live.guest()
    room = await host.create_room(display_name="Ada")
    assert (await guest.join(room["code"], "Grace")).status_code == 200
    return room, host, guest


async def start(guest: Guest, room: dict[str, Any]) -> dict[str, Any]:
    response = await guest.post(f"/api/v1/rooms/{room['code']}/transcription/start")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def audio(seconds: float) -> list[bytes]:
    """Silence in 100 ms chunks (what an AudioWorklet posts)."""
    chunk = b"\x00\x00" * 1600
    return [chunk] * round(seconds * 10)


async def stream(ws: ClientConnection, chunks: list[bytes], per_second: int = 40) -> None:
    for chunk in chunks:
        await ws.send(chunk)
        await asyncio.sleep(1 / per_second)


async def rows(db: asyncpg.Connection, room_id: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM transcript_segments WHERE room_id = $1 ORDER BY started_at, id",
        uuid.UUID(room_id),
    )


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110 - polling PostgreSQL, nothing to wait on
            await asyncio.sleep(0.05)


# -- control -------------------------------------------------------------------------------


async def test_the_host_transcribes_by_default_and_may_designate_someone_else(
    live_factory: LiveFactory, gladia: GladiaState
) -> None:
    live = await live_factory(**gladia_settings(gladia))
    room, host, guest = await meeting(live)
    base = f"/api/v1/rooms/{room['code']}/transcription"

    state = (await guest.get(base)).json()
    assert state["status"] == "idle" and state["host_id"] == host.participant_id
    assert state["enabled"] is True
    refused = await guest.post(f"{base}/start")
    assert (refused.status_code, refused.json()["code"]) == (403, "not_transcription_host")

    started = await start(host, room)
    assert started["status"] == "active"
    assert started["worker_url"] == f"{live.ws_url}/ws/transcribe"
    claims = WorkerTokens(SECRET, 300).verify(started["token"])
    assert (str(claims.room_id), str(claims.participant_id)) == (room["id"], host.participant_id)
    assert started["expires_in"] == 300

    assert (await guest.post(f"{base}/host", json={"participant_id": guest.participant_id})).json()[
        "code"
    ] == "not_host"
    designated = await host.post(f"{base}/host", json={"participant_id": guest.participant_id})
    assert designated.status_code == 200
    # A new transcription host stops the running transcription.
    assert designated.json() | {"started_at": None} == state | {
        "host_id": guest.participant_id,
        "started_at": None,
        "status": "idle",
    }
    assert (await host.post(f"{base}/start")).json()["code"] == "not_transcription_host"
    assert (await start(guest, room))["status"] == "active"
    # Either the transcription host or the room host may stop it; twice is a conflict.
    assert (await host.post(f"{base}/stop")).json()["status"] == "idle"
    again = await host.post(f"{base}/stop")
    assert (again.status_code, again.json()["code"]) == (409, "transcription_not_active")


async def test_the_role_falls_back_to_the_room_host_when_the_transcription_host_leaves(
    live_factory: LiveFactory, gladia: GladiaState
) -> None:
    live = await live_factory(**gladia_settings(gladia))
    room, host, guest = await meeting(live)
    base = f"/api/v1/rooms/{room['code']}/transcription"
    await host.post(f"{base}/host", json={"participant_id": guest.participant_id})
    await start(guest, room)

    async with socket(live, room["code"], host) as ws:
        await next_of(ws, "ready")
        assert (await guest.post(f"/api/v1/rooms/{room['code']}/leave")).status_code == 200
        update = await next_of(ws, "transcription.updated")
        assert update["status"] == "idle" and update["host_id"] == host.participant_id

    # The room host leaving passes both roles to the earliest participant left.
    third = await live.guest()
    await third.join(room["code"], "Third")
    await start(host, room)
    await host.post(f"/api/v1/rooms/{room['code']}/leave")
    state = (await third.get(base)).json()
    assert (state["status"], state["host_id"]) == ("idle", third.participant_id)


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"transcription_enabled": False}, 403, "transcription_disabled"),
        ({"gladia_api_key": ""}, 503, "transcription_not_configured"),
    ],
)
async def test_start_explains_why_transcription_is_unavailable(
    live_factory: LiveFactory,
    gladia: GladiaState,
    overrides: dict[str, Any],
    status: int,
    code: str,
) -> None:
    live = await live_factory(**gladia_settings(gladia, **overrides))
    room, host, _ = await meeting(live)
    response = await host.post(f"/api/v1/rooms/{room['code']}/transcription/start")
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert (await host.get(f"/api/v1/rooms/{room['code']}/transcription")).json()[
        "enabled"
    ] is False


# -- the worker, end to end ----------------------------------------------------------------


async def test_audio_becomes_partials_and_finals_for_everyone_and_rows_in_postgres(
    live_factory: LiveFactory, gladia: GladiaState, db: asyncpg.Connection
) -> None:
    live = await live_factory(**gladia_settings(gladia))
    room, host, guest = await meeting(live)
    gladia.texts = ["hello everyone", "привет всем"]
    started = await start(host, room)

    async with socket(live, room["code"], guest) as watcher:
        await next_of(watcher, "ready")
        async with connect(f"{started['worker_url']}?token={started['token']}") as mic:
            await stream(mic, audio(2))  # two finals: one per second of audio
            partial = await next_of(watcher, "transcript.partial")
            final = await next_of(watcher, "transcript.final")
            assert partial["utterance_id"] == final["utterance_id"]
            assert final["text"] == "hello everyone"
            assert final["participant_id"] == host.participant_id
            assert final["language"] == "en"
            assert final["end"] > final["start"] >= 0
            assert "cursor" in final and "cursor" not in partial  # finals are replayable
            await mic.send(json.dumps({"type": "stop"}))
            await closed_with(mic)
        second = await next_of(watcher, "transcript.final")
        assert second["text"] == "привет всем"
        assert second["utterance_id"] != final["utterance_id"]
        update = await next_of(watcher, "transcription.updated")
        assert update["status"] == "idle"

    session = gladia.session
    assert session.stopped and session.bytes_received == 2 * SECOND
    assert session.init_body["sample_rate"] == 16000
    await eventually(lambda: _has_rows(db, room["id"], 2))
    stored = await rows(db, room["id"])
    assert [r["text"] for r in stored] == ["hello everyone", "привет всем"]
    assert stored[0]["utterance_id"] == final["utterance_id"]
    assert stored[0]["participant_id"] == uuid.UUID(host.participant_id)

    page = (await guest.get(f"/api/v1/rooms/{room['code']}/transcripts")).json()
    assert [item["text"] for item in page["items"]] == ["hello everyone", "привет всем"]
    assert page["items"][0]["display_name"] == "Ada"
    srt = await guest.get(f"/api/v1/rooms/{room['code']}/transcripts/export?format=srt")
    assert srt.status_code == 200
    assert "Ada: hello everyone" in srt.text
    assert srt.headers["content-disposition"].endswith('transcript.srt"')
    for fmt, content_type in (
        ("srt", "application/x-subrip; charset=utf-8"),
        ("txt", "text/plain; charset=utf-8"),
        ("vtt", "text/vtt; charset=utf-8"),
        ("json", "application/json"),
    ):
        export = await guest.get(f"/api/v1/rooms/{room['code']}/transcripts/export?format={fmt}")
        assert export.headers["content-type"] == content_type  # one charset, not two
    bad = await guest.get(f"/api/v1/rooms/{room['code']}/transcripts/export?format=doc")
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_failed")
    state = (await host.get(f"/api/v1/rooms/{room['code']}/transcription")).json()
    assert state["seconds_used"] == pytest.approx(2.0, abs=0.01)

    metrics = (await live.http.get("/metrics")).text
    for line in (
        'moot_worker_chunks_total{outcome="accepted"} 20.0',
        "moot_worker_connections 0.0",
        "moot_gladia_sessions_total 1.0",
        "moot_transcript_rows_written_total 2.0",
        'moot_transcript_flushes_total{outcome="ok"}',
        "moot_transcript_queue_length 0.0",
    ):
        assert line in metrics, line


async def _has_rows(db: asyncpg.Connection, room_id: str, n: int) -> bool:
    return len(await rows(db, room_id)) >= n


async def test_a_dropped_gladia_connection_resumes_without_losing_audio(
    live_factory: LiveFactory, gladia: GladiaState, db: asyncpg.Connection
) -> None:
    live = await live_factory(**gladia_settings(gladia))
    room, host, _ = await meeting(live)
    gladia.drop_after_bytes = SECOND
    started = await start(host, room)
    async with connect(f"{started['worker_url']}?token={started['token']}") as mic:
        await stream(mic, audio(3))
        await mic.send(json.dumps({"type": "stop"}))
        await closed_with(mic)
    session = gladia.session
    assert session.connections == 2 and session.dropped
    assert session.bytes_received == 3 * SECOND
    await eventually(lambda: _has_rows(db, room["id"], 3))


# -- the worker refuses bad clients ----------------------------------------------------------


async def test_the_worker_needs_a_current_token(
    live_factory: LiveFactory, gladia: GladiaState
) -> None:
    live = await live_factory(**gladia_settings(gladia))
    room, host, _ = await meeting(live)
    started = await start(host, room)
    url = started["worker_url"]

    async with connect(f"{url}?token=forged.token") as ws:
        assert json.loads(await ws.recv())["code"] == "invalid_credential"
        assert (await closed_with(ws))[0] == 4401
    expired = WorkerTokens(SECRET, -10).issue(
        uuid.UUID(room["id"]), uuid.UUID(host.participant_id), "run"
    )
    async with connect(f"{url}?token={expired}") as ws:
        assert (await closed_with(ws))[0] == 4401
    # After stop, the run is over and its token with it; a restart issues a new one.
    await host.post(f"/api/v1/rooms/{room['code']}/transcription/stop")
    async with connect(f"{url}?token={started['token']}") as ws:
        assert json.loads(await ws.recv())["code"] == "transcription_not_active"
        assert (await closed_with(ws))[0] == 4409
    assert gladia.sessions == {}  # no Gladia session was opened for any of them


@pytest.mark.parametrize(
    ("chunk", "code"),
    [(b"\x00" * 3, 1007), (b"", 1007), (b"\x00" * 40_000, 1009)],
)
async def test_chunks_that_are_not_pcm16_or_too_big_close_the_socket(
    live_factory: LiveFactory, gladia: GladiaState, chunk: bytes, code: int
) -> None:
    live = await live_factory(**gladia_settings(gladia))
    room, host, _ = await meeting(live)
    started = await start(host, room)
    async with connect(f"{started['worker_url']}?token={started['token']}") as mic:
        await mic.send(b"\x00\x00" * 1600)
        await mic.send(chunk)
        assert (await closed_with(mic))[0] == code


async def test_too_many_chunks_per_second_close_the_socket(
    live_factory: LiveFactory, gladia: GladiaState
) -> None:
    live = await live_factory(**gladia_settings(gladia, transcription_max_chunks_per_second=5))
    room, host, _ = await meeting(live)
    started = await start(host, room)
    async with connect(f"{started['worker_url']}?token={started['token']}") as mic:
        for chunk in audio(2):
            try:
                await mic.send(chunk)
            except ConnectionClosed:
                break
        assert (await closed_with(mic))[0] == 1008


async def test_the_rooms_time_limit_ends_the_stream_and_blocks_a_restart(
    live_factory: LiveFactory, gladia: GladiaState
) -> None:
    live = await live_factory(**gladia_settings(gladia, transcription_max_seconds_per_room=1))
    room, host, _ = await meeting(live)
    started = await start(host, room)
    async with connect(f"{started['worker_url']}?token={started['token']}") as mic:
        with pytest.raises(ConnectionClosed):
            await stream(mic, audio(2))
        assert (await closed_with(mic))[0] == 4408
    # The worker records the time used as the stream ends, which can land a moment after the
    # socket closed: wait for it rather than race it (seen on a slow machine).
    async with asyncio.timeout(5):
        while True:
            state = (await host.get(f"/api/v1/rooms/{room['code']}/transcription")).json()
            if state["seconds_used"] > 0:
                break
            await asyncio.sleep(0.05)
    assert state["seconds_used"] == pytest.approx(1.0, abs=0.01)
    refused = await host.post(f"/api/v1/rooms/{room['code']}/transcription/start")
    assert (refused.status_code, refused.json()["code"]) == (409, "transcription_limit_reached")


async def test_stopping_through_the_api_closes_the_audio_socket(
    live_factory: LiveFactory, gladia: GladiaState
) -> None:
    live = await live_factory(**gladia_settings(gladia))
    room, host, _ = await meeting(live)
    started = await start(host, room)
    async with connect(f"{started['worker_url']}?token={started['token']}") as mic:
        await stream(mic, audio(0.5))
        await host.post(f"/api/v1/rooms/{room['code']}/transcription/stop")
        assert await closed_with(mic) == (4409, "transcription stopped")
    assert gladia.session.stopped


async def test_ending_the_meeting_closes_the_audio_socket_and_refuses_its_token(
    live_factory: LiveFactory, gladia: GladiaState, redis: Redis
) -> None:
    live = await live_factory(**gladia_settings(gladia))
    room, host, _ = await meeting(live)
    started = await start(host, room)
    url = f"{started['worker_url']}?token={started['token']}"
    async with connect(url) as mic:
        await stream(mic, audio(0.5))
        assert (await host.post(f"/api/v1/rooms/{room['code']}/end")).status_code == 200
        assert await closed_with(mic) == (4410, "the meeting has ended")
    assert gladia.session.stopped

    # The token was issued before the end and has not expired: the run is over all the same,
    # even if the run key in Redis had survived the end (a delete lost while Redis was down).
    claims = WorkerTokens(SECRET, 300).verify(started["token"])
    await redis.set(f"transcription:room:{room['id']}:run", claims.run)
    async with connect(url) as refused:
        assert json.loads(await refused.recv())["code"] == "room_ended"
        assert (await closed_with(refused))[0] == 4410
    assert len(gladia.sessions) == 1  # no Gladia session for the refused token


async def test_an_open_audio_socket_ends_with_the_meeting_even_if_redis_kept_the_run(
    live_factory: LiveFactory, gladia: GladiaState, db: asyncpg.Connection
) -> None:
    live = await live_factory(**gladia_settings(gladia))
    room, host, _ = await meeting(live)
    started = await start(host, room)
    async with connect(f"{started['worker_url']}?token={started['token']}") as mic:
        await stream(mic, audio(0.2))
        # The meeting ends in PostgreSQL while the run key stays in Redis (the key's delete
        # lost): the worker reads the room's state from PostgreSQL as well.
        await db.execute(
            "UPDATE rooms SET status = 'ended' WHERE id = $1",
            uuid.UUID(room["id"]),
        )
        assert await closed_with(mic) == (4410, "the meeting has ended")


async def test_text_frames_other_than_stop_get_an_error_event(
    live_factory: LiveFactory, gladia: GladiaState
) -> None:
    live = await live_factory(**gladia_settings(gladia))
    room, host, _ = await meeting(live)
    started = await start(host, room)
    async with connect(f"{started['worker_url']}?token={started['token']}") as mic:
        await mic.send("hello")
        assert json.loads(await mic.recv())["code"] == "invalid_frame"
        await mic.send(b"\x00\x00" * 1600)  # still open


async def test_gladia_refusing_the_session_is_a_clear_close(
    live_factory: LiveFactory, gladia: GladiaState
) -> None:
    live = await live_factory(**gladia_settings(gladia))
    room, host, _ = await meeting(live)
    gladia.reject_key = True
    started = await start(host, room)
    async with connect(f"{started['worker_url']}?token={started['token']}") as mic:
        assert json.loads(await mic.recv())["code"] == "transcription_unavailable"
        assert (await closed_with(mic))[0] == 1011


async def test_a_worker_only_app_serves_audio_and_no_api(
    moot_factory: MootFactory, gladia: GladiaState
) -> None:
    from moot.app import create_app
    from tests.conftest import make_settings

    settings = make_settings(**gladia_settings(gladia))
    app = create_app(
        settings,
        database_url="postgresql://unused",
        redis_url="redis://unused",
        secret_key=SECRET,
        component="worker",
    )
    paths = {route.path for route in app.routes}
    assert "/ws/transcribe" in paths and "/health" in paths and "/metrics" in paths
    assert not any(path.startswith("/api/") for path in paths)
    api_only = create_app(
        settings,
        database_url="postgresql://unused",
        redis_url="redis://unused",
        secret_key=SECRET,
        component="api",
    )
    assert "/ws/transcribe" not in {route.path for route in api_only.routes}


# -- graceful shutdown of a real worker process -----------------------------------------------


async def test_sigterm_to_a_worker_process_flushes_every_final_it_received(
    tmp_path: Any, stores: Any, db: asyncpg.Connection, gladia: GladiaState
) -> None:
    import signal

    import httpx

    from tests.processes import free_port
    from tests.test_serve import start_with_urls

    api_port, worker_port = free_port(), free_port()
    gladia_env = {"MOOT_GLADIA_BASE_URL": gladia.base_url, "MOOT_GLADIA_API_KEY": gladia.api_key}
    api = start_with_urls(
        api_port,
        tmp_path / "api",
        stores,
        MOOT_WORKER_EMBEDDED="false",
        MOOT_WORKER_PUBLIC_URL=f"ws://127.0.0.1:{worker_port}/ws/transcribe",
        **gladia_env,
    )
    # Nothing would reach PostgreSQL for a minute: only the shutdown flush can write it.
    worker = start_moot(
        "worker",
        worker_port,
        tmp_path / "worker",
        stores,
        MOOT_TRANSCRIPT_FLUSH_INTERVAL_MS="60000",
        **gladia_env,  # type: ignore[arg-type]
    )
    try:
        await wait_ready(f"http://127.0.0.1:{api_port}")
        await wait_ready(f"http://127.0.0.1:{worker_port}")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=5) as http:
            # The API has no audio socket of its own; the worker has no API.
            assert (await http.get("/ws/transcribe")).status_code == 404
            worker_api = await http.post(f"http://127.0.0.1:{worker_port}/api/v1/identity")
            assert worker_api.status_code == 404
            token = (await http.post("/api/v1/identity")).json()["token"]
            host = Guest(http, token, "")
            room = await host.create_room(display_name="Ada")
            started = await start(host, room)
            assert started["worker_url"] == f"ws://127.0.0.1:{worker_port}/ws/transcribe"
            async with connect(f"{started['worker_url']}?token={started['token']}") as mic:
                await stream(mic, audio(1.5))
                await eventually(lambda: _finals_sent(gladia, 1))
                worker.send_signal(signal.SIGTERM)
                code, _ = await closed_with(mic, timeout=15)
            assert code == 1012  # "service restart": reconnect elsewhere
        assert await asyncio.wait_for(asyncio.to_thread(worker.wait), 30) == 0
    finally:
        for process in (worker, api):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (worker, api):
            process.wait(timeout=20)
    session = gladia.session
    assert session.stopped  # Gladia was asked to stop, and its last final came back
    finals = [t["utterance"]["text"] for t in session.transcripts() if t["is_final"]]
    assert len(finals) == 2
    stored = await rows(db, room["id"])
    assert [r["text"] for r in stored] == finals  # every final Gladia sent, none lost


async def _finals_sent(gladia: GladiaState, n: int) -> bool:
    return any(
        sum(1 for t in session.transcripts() if t["is_final"]) >= n
        for session in gladia.sessions.values()
    )


async def test_a_gladia_error_message_is_counted_and_the_session_goes_on(
    live_factory: LiveFactory, gladia: GladiaState
) -> None:
    live = await live_factory(**gladia_settings(gladia))
    room, host, guest = await meeting(live)
    gladia.error_after_bytes = SECOND // 2  # Gladia refuses one chunk with an error
    started = await start(host, room)
    async with socket(live, room["code"], guest) as watcher:
        await next_of(watcher, "ready")
        async with connect(f"{started['worker_url']}?token={started['token']}") as mic:
            await stream(mic, audio(2))
            assert (await next_of(watcher, "transcript.final"))["text"]
            await mic.send(json.dumps({"type": "stop"}))
            await closed_with(mic)
    assert gladia.session.errored
    metrics = (await live.http.get("/metrics")).text
    errors = [line for line in metrics.splitlines() if line.startswith("moot_gladia_errors_total{")]
    assert errors and float(errors[0].rsplit(" ", 1)[1]) >= 1

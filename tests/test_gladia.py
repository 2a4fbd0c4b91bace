"""The Gladia live v2 client against a loopback stand-in that speaks Gladia's protocol."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from moot.infra.metrics import Metrics
from moot.transcription.gladia import (
    GladiaClient,
    GladiaError,
    GladiaSession,
    Utterance,
    backoff_delay,
    close_is_final,
)
from tests.gladia_standin import GladiaStandIn, GladiaState

CHUNK = 3200  # 100 ms of PCM16 mono 16 kHz, as the browser's AudioWorklet sends it
SECOND = 32_000


def audio(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))


def client(gladia: GladiaState, metrics: Metrics, **overrides: Any) -> GladiaClient:
    options: dict[str, Any] = {
        "timeout": 2.0,
        "max_reconnects": 3,
        "backoff_base": 0.01,
        "metrics": metrics,
    }
    options.update(overrides)
    api_key = options.pop("api_key", gladia.api_key)
    return GladiaClient(gladia.base_url, api_key, **options)


def count(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def stream(session: GladiaSession, size: int, pause: float = 0.002) -> int:
    """Send `size` bytes in 100 ms chunks; a short pause lets acknowledgments come back."""
    sent = 0
    for at in range(0, size, CHUNK):
        piece = audio(size)[at : at + CHUNK]
        await session.send(piece)
        sent += len(piece)
        await asyncio.sleep(pause)
    return sent


class Transcripts:
    """Iterates a session in the background, as the worker's relay does."""

    def __init__(self, session: GladiaSession) -> None:
        self.items: list[Utterance] = []
        self.error: GladiaError | None = None
        self.task = asyncio.create_task(self._run(session))

    async def _run(self, session: GladiaSession) -> None:
        try:
            async for utterance in session:
                self.items.append(utterance)
        except GladiaError as exc:
            self.error = exc

    async def done(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self.task, timeout)

    def finals(self) -> list[tuple[str, float, float]]:
        return [(u.utterance_id, u.start, u.end) for u in self.items if u.is_final]


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


# -- opening a session -------------------------------------------------------------------------


async def test_open_posts_the_documented_config_with_the_key_then_connects(
    metrics: Metrics,
) -> None:
    async with GladiaStandIn() as gladia:
        gladia_client = client(gladia, metrics)
        session = await gladia_client.open()
        try:
            assert gladia.init_keys == [gladia.api_key]
            body = gladia.session.init_body
            assert (body["encoding"], body["bit_depth"], body["sample_rate"], body["channels"]) == (
                "wav/pcm",
                16,
                16000,
                1,
            )
            assert body["language_config"] == {"languages": [], "code_switching": False}
            messages = body["messages_config"]
            assert messages["receive_partial_transcripts"] is True
            assert messages["receive_final_transcripts"] is True
            assert messages["receive_acknowledgments"] is True
            assert session.id == gladia.session.id
            assert session.url.endswith(f"/v2/live?token={gladia.session.token}")
            await wait_until(lambda: gladia.session.connections == 1)
            assert count(metrics, "moot_gladia_sessions_total") == 1
        finally:
            await session.abort()
            await gladia_client.aclose()


async def test_a_configured_language_is_pinned(metrics: Metrics) -> None:
    async with GladiaStandIn() as gladia:
        gladia_client = client(gladia, metrics, language="fr")
        session = await gladia_client.open()
        await session.abort()
        await gladia_client.aclose()
        assert gladia.session.init_body["language_config"]["languages"] == ["fr"]


async def test_a_wrong_key_fails_at_once_with_auth(metrics: Metrics) -> None:
    async with GladiaStandIn() as gladia:
        gladia_client = client(gladia, metrics, api_key="not-the-key")
        with pytest.raises(GladiaError) as failure:
            await gladia_client.open()
        await gladia_client.aclose()
        assert failure.value.code == "auth"
        assert gladia.init_keys == ["not-the-key"]  # no retry
        assert gladia.sessions == {}
        assert count(metrics, "moot_gladia_errors_total", kind="auth") == 1
        assert count(metrics, "moot_gladia_sessions_total") == 0


async def test_a_revoked_key_fails_with_auth_too(metrics: Metrics) -> None:
    async with GladiaStandIn(reject_key=True) as gladia:
        gladia_client = client(gladia, metrics)
        with pytest.raises(GladiaError) as failure:
            await gladia_client.open()
        await gladia_client.aclose()
        assert failure.value.code == "auth"
        assert len(gladia.init_keys) == 1


async def test_a_refused_config_is_a_config_error_without_retries(metrics: Metrics) -> None:
    async with GladiaStandIn(init_status=422) as gladia:
        gladia_client = client(gladia, metrics)
        with pytest.raises(GladiaError) as failure:
            await gladia_client.open()
        await gladia_client.aclose()
        assert failure.value.code == "config"
        assert "422" in failure.value.message
        assert len(gladia.init_keys) == 1


async def test_init_server_errors_are_retried_with_backoff(metrics: Metrics) -> None:
    async with GladiaStandIn(fail_inits=2) as gladia:
        gladia_client = client(gladia, metrics, max_reconnects=3)
        session = await gladia_client.open()
        await session.abort()
        await gladia_client.aclose()
        assert len(gladia.init_keys) == 3
        assert count(metrics, "moot_gladia_errors_total", kind="init") == 2
        assert count(metrics, "moot_gladia_sessions_total") == 1


async def test_init_gives_up_after_max_reconnects(metrics: Metrics) -> None:
    async with GladiaStandIn(init_status=503) as gladia:
        gladia_client = client(gladia, metrics, max_reconnects=2)
        with pytest.raises(GladiaError) as failure:
            await gladia_client.open()
        await gladia_client.aclose()
        assert failure.value.code == "init"
        assert len(gladia.init_keys) == 3


async def test_the_standin_refuses_audio_formats_as_gladia_does() -> None:
    async with GladiaStandIn() as gladia:
        async with httpx.AsyncClient(base_url=gladia.base_url) as http:
            headers = {"x-gladia-key": gladia.api_key}
            bad_rate = await http.post("/v2/live", headers=headers, json={"sample_rate": 22050})
            alaw_16 = await http.post(
                "/v2/live", headers=headers, json={"encoding": "wav/alaw", "bit_depth": 16}
            )
            no_key = await http.post("/v2/live", json={})
        assert bad_rate.status_code == 400
        assert bad_rate.json()["validation_errors"]
        assert alaw_16.status_code == 422
        assert no_key.status_code == 401
        assert gladia.sessions == {}


# -- transcripts -------------------------------------------------------------------------------


async def test_partials_then_finals_carry_gladia_ids_timing_and_language(
    metrics: Metrics,
) -> None:
    async with GladiaStandIn() as gladia:
        gladia_client = client(gladia, metrics)
        session = await gladia_client.open()
        transcripts = Transcripts(session)
        await stream(session, SECOND * 3 // 2)
        await session.stop()
        await transcripts.done()
        await gladia_client.aclose()
        assert transcripts.error is None
        seen = [(u.utterance_id, u.is_final, u.start, u.end, u.text) for u in transcripts.items]
        assert seen == [
            ("00-00000000", False, 0.0, 0.5, "utterance"),
            ("00-00000000", True, 0.0, 1.0, "utterance 1"),
            ("00-00000001", False, 1.0, 1.5, "utterance"),
            ("00-00000001", True, 1.0, 1.5, "utterance 2"),  # the last one, flushed by stop
        ]
        assert {u.language for u in transcripts.items} == {"en"}


async def test_stop_flushes_the_last_final_and_the_session_closes_cleanly(
    metrics: Metrics,
) -> None:
    async with GladiaStandIn(texts=["hello there"]) as gladia:
        gladia_client = client(gladia, metrics)
        session = await gladia_client.open()
        transcripts = Transcripts(session)
        sent = await stream(session, SECOND * 3 // 4)
        await session.stop()
        await transcripts.done()
        await gladia_client.aclose()
        assert transcripts.error is None
        assert transcripts.finals() == [("00-00000000", 0.0, 0.75)]
        assert transcripts.items[-1].text == "hello there"
        live = gladia.session
        assert live.stopped and live.closed
        assert live.bytes_received == sent
        assert live.close_codes == [1000]
        assert live.connections == 1
        assert live.types()[-2:] == ["transcript", "stop_recording"]  # final, then the stop ack
        with pytest.raises(GladiaError) as late:
            await session.send(audio(CHUNK))
        assert late.value.code == "ended"


async def test_lifecycle_and_post_processing_messages_are_read_past(metrics: Metrics) -> None:
    async with GladiaStandIn() as gladia:
        gladia_client = client(gladia, metrics)
        config = gladia_client.init_body()
        config["messages_config"] |= {
            "receive_lifecycle_events": True,
            "receive_post_processing_events": True,
        }
        gladia_client.init_body = lambda channels=1: config  # type: ignore[method-assign]
        session = await gladia_client.open()
        transcripts = Transcripts(session)
        await stream(session, SECOND)
        await session.stop()
        await transcripts.done()
        await gladia_client.aclose()
        types = gladia.session.types()
        assert types[0] == "start_session"
        assert types[-4:] == [
            "end_recording",
            "post_transcript",
            "post_final_transcript",
            "end_session",
        ]
        assert transcripts.error is None
        assert transcripts.finals() == [("00-00000000", 0.0, 1.0)]
        assert count(metrics, "moot_gladia_errors_total", kind="protocol") == 0


async def test_abort_closes_without_waiting(metrics: Metrics) -> None:
    async with GladiaStandIn(post_processing_delay=5) as gladia:
        gladia_client = client(gladia, metrics)
        session = await gladia_client.open()
        transcripts = Transcripts(session)
        await stream(session, SECOND // 2)
        started = time.monotonic()
        await session.abort()
        await transcripts.done(timeout=1)
        await gladia_client.aclose()
        assert time.monotonic() - started < 1
        assert transcripts.error is None
        await wait_until(lambda: gladia.session.close_codes == [1000])
        assert not gladia.session.stopped


async def test_stop_gives_up_after_its_timeout(metrics: Metrics) -> None:
    async with GladiaStandIn(post_processing_delay=5) as gladia:
        gladia_client = client(gladia, metrics)
        session = await gladia_client.open()
        transcripts = Transcripts(session)
        await stream(session, SECOND // 2)
        started = time.monotonic()
        await session.stop(timeout=0.3)
        await transcripts.done(timeout=1)
        await gladia_client.aclose()
        assert time.monotonic() - started < 1.5
        assert gladia.session.stopped
        assert transcripts.finals() == [("00-00000000", 0.0, 0.5)]  # sent before the delay


# -- errors and dropped connections -----------------------------------------------------------


async def test_a_refused_chunk_is_counted_and_the_session_goes_on(metrics: Metrics) -> None:
    async with GladiaStandIn(error_after_bytes=SECOND // 2) as gladia:
        gladia_client = client(gladia, metrics)
        session = await gladia_client.open()
        transcripts = Transcripts(session)
        sent = await stream(session, SECOND * 2)
        await session.stop()
        await transcripts.done()
        await gladia_client.aclose()
        assert transcripts.error is None
        assert gladia.session.rejected_chunks == 1
        assert gladia.session.bytes_received == sent - CHUNK
        assert count(metrics, "moot_gladia_errors_total", kind="protocol") == 1
        assert [u.utterance_id for u in transcripts.items if u.is_final] == [
            "00-00000000",
            "00-00000001",
        ]


@pytest.mark.parametrize("drop_code", [None, 1011, 1012], ids=["tcp-reset", "1011", "1012"])
async def test_a_dropped_connection_resumes_on_the_same_url_without_losing_audio(
    metrics: Metrics, drop_code: int | None
) -> None:
    async with GladiaStandIn(drop_after_bytes=40_000, drop_code=drop_code) as gladia:
        gladia_client = client(gladia, metrics)
        session = await gladia_client.open()
        transcripts = Transcripts(session)
        sent = await stream(session, SECOND * 2)
        await session.stop()
        await transcripts.done()
        await gladia_client.aclose()
        assert transcripts.error is None
        live = gladia.session
        assert len(gladia.init_keys) == 1  # the same session, not a new one
        assert live.connections == 2
        assert live.close_codes == [drop_code, 1000]
        assert live.bytes_received == sent  # nothing lost, nothing twice
        assert transcripts.finals() == [("00-00000000", 0.0, 1.0), ("00-00000001", 1.0, 2.0)]
        assert count(metrics, "moot_gladia_reconnects_total") == 1
        assert count(metrics, "moot_gladia_errors_total", kind="disconnect") == 1


async def test_audio_sent_while_reconnecting_is_buffered_then_flushed(metrics: Metrics) -> None:
    async with GladiaStandIn(drop_after_bytes=16_000, refuse_reconnects=2) as gladia:
        gladia_client = client(gladia, metrics, backoff_base=0.05)
        session = await gladia_client.open()
        transcripts = Transcripts(session)
        sent = await stream(session, SECOND // 2 + CHUNK)
        await wait_until(lambda: gladia.session.refused >= 1)  # the client is reconnecting now
        sent += await stream(session, SECOND // 2, pause=0)
        assert gladia.session.connections == 1
        await wait_until(lambda: gladia.session.connections == 2)
        await session.stop()
        await transcripts.done()
        await gladia_client.aclose()
        assert transcripts.error is None
        assert gladia.session.bytes_received == sent
        assert count(metrics, "moot_gladia_reconnects_total") == 1
        assert count(metrics, "moot_gladia_errors_total", kind="connect") == 2


async def test_a_full_buffer_drops_new_audio_while_reconnecting(metrics: Metrics) -> None:
    async with GladiaStandIn(drop_after_bytes=16_000, refuse_reconnects=2) as gladia:
        gladia_client = client(gladia, metrics, backoff_base=0.05, buffer_seconds=0.5)
        session = await gladia_client.open()
        transcripts = Transcripts(session)
        await stream(session, SECOND // 2 + CHUNK)  # the last chunk is lost with the drop
        await wait_until(lambda: gladia.session.refused >= 1)
        await stream(session, SECOND, pause=0)  # twice what the buffer holds
        await wait_until(lambda: gladia.session.connections == 2)
        await session.stop()
        await transcripts.done()
        await gladia_client.aclose()
        assert transcripts.error is None
        # Acknowledged before the drop, then one buffer's worth: the lost chunk and 4 more.
        assert gladia.session.bytes_received == 16_000 + SECOND // 2
        assert count(metrics, "moot_gladia_errors_total", kind="overflow") == 10 - 4


async def test_exhausted_reconnects_end_iteration_and_sending_with_gladia_error(
    metrics: Metrics,
) -> None:
    async with GladiaStandIn(drop_after_bytes=16_000, refuse_reconnects=-1) as gladia:
        gladia_client = client(gladia, metrics, max_reconnects=2)
        session = await gladia_client.open()
        transcripts = Transcripts(session)
        await stream(session, SECOND // 2 + CHUNK)
        await transcripts.done()
        assert transcripts.error is not None
        assert transcripts.error.code == "reconnects_exhausted"
        with pytest.raises(GladiaError) as failure:
            await session.send(audio(CHUNK))
        assert failure.value.code == "reconnects_exhausted"
        await session.stop()
        await gladia_client.aclose()
        assert gladia.session.connections == 1
        assert gladia.session.refused == 2
        assert count(metrics, "moot_gladia_reconnects_total") == 0
        assert count(metrics, "moot_gladia_errors_total", kind="connect") == 2


async def test_a_final_close_code_ends_iteration_without_reconnecting(metrics: Metrics) -> None:
    async with GladiaStandIn(drop_after_bytes=16_000, drop_code=4408) as gladia:
        gladia_client = client(gladia, metrics)
        session = await gladia_client.open()
        transcripts = Transcripts(session)
        await stream(session, SECOND // 2 + CHUNK)
        await transcripts.done()
        await gladia_client.aclose()
        assert transcripts.error is not None
        assert transcripts.error.code == "session_closed"
        assert gladia.session.connections == 1
        assert count(metrics, "moot_gladia_errors_total", kind="server") == 1
        with pytest.raises(GladiaError):
            await session.send(audio(CHUNK))


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff_delay(0.2, n) for n in range(6)] == [0.2, 0.4, 0.8, 1.6, 2.0, 2.0]


def test_only_1000_and_4400_to_4499_end_a_session() -> None:
    assert close_is_final(1000)
    assert close_is_final(4403)
    assert not any(close_is_final(code) for code in (1001, 1006, 1011, 1012, 4000, 4500))

"""The transcription worker: the host's audio in, Gladia in the middle, transcripts out.

`/ws/transcribe?token=` takes binary PCM16 mono 16 kHz chunks from the transcription host's
browser, checks each (non-empty, even length, at most `transcription_chunk_max_bytes`, at most
`transcription_max_chunks_per_second`, within the room's transcription time) and forwards it
to a Gladia live session. Partial and final transcripts go to the room's channel (everyone's
room WebSocket); finals also go to PostgreSQL through the batch writer.

Close codes: 4401 bad or expired token, 4409 the run is not (or no longer) active, 4410 the
meeting has ended, 4408 the room's transcription time is used up, 1007 a chunk that is not
PCM16, 1009 a chunk too large, 1008 too many chunks per second, 1011 Gladia failed, 1012 the
worker is shutting down.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, cast

import asyncpg
import structlog
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from prometheus_client import Counter, Gauge
from redis.asyncio import Redis
from redis.exceptions import RedisError

from moot.errors import MootError
from moot.infra.metrics import Metrics
from moot.realtime.close_codes import CloseCode
from moot.settings import TranscriptionSettings
from moot.transcription import store as transcript_store
from moot.transcription.control import TranscriptionRuns, run_key
from moot.transcription.events import TranscriptFinal, TranscriptPartial
from moot.transcription.gladia import GladiaClient, GladiaError, GladiaSession
from moot.transcription.schemas import Segment
from moot.transcription.tokens import WorkerClaims, WorkerTokens
from moot.transcription.writer import BatchWriter

log = structlog.get_logger(__name__)

BYTES_PER_SECOND = 16_000 * 2  # PCM16 mono at 16 kHz
# How often an open audio socket checks that its run goes on (Redis), and every how many
# checks it asks PostgreSQL too: a stopped run or an ended meeting closes it within a second.
_WATCH_SECONDS = 0.5
_DATABASE_EVERY = 4


class _Ended(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class TranscriptionWorker:
    def __init__(
        self,
        settings: TranscriptionSettings,
        pool: asyncpg.Pool,
        redis: Redis,
        runs: TranscriptionRuns,
        tokens: WorkerTokens,
        writer: BatchWriter,
        metrics: Metrics,
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._redis = redis
        self._runs = runs
        self._tokens = tokens
        self._writer = writer
        self._gladia = GladiaClient(
            settings.gladia_base_url,
            settings.gladia_api_key,
            timeout=settings.gladia_timeout_seconds,
            max_reconnects=settings.gladia_max_reconnects,
            metrics=metrics,
            language=settings.gladia_language,
        )
        self._stopping = False
        self.connections = Gauge(
            "moot_worker_connections",
            "Audio sockets open on this worker.",
            registry=metrics.registry,
        )
        self.chunks = Counter(
            "moot_worker_chunks",
            "Audio chunks, by outcome.",
            ["outcome"],
            registry=metrics.registry,
        )

    async def close(self) -> None:
        self._stopping = True
        await self._gladia.aclose()

    async def serve(self, socket: WebSocket[Any, Any, Any]) -> None:
        try:
            claims = self._tokens.verify(socket.query_params.get("token", ""))
        except MootError as exc:
            await _refuse(socket, CloseCode.INVALID_CREDENTIAL, exc.code, exc.message)
            return
        if self._stopping:
            await _refuse(socket, CloseCode.RESTART, "shutting_down", "The worker is restarting.")
            return
        # A valid signature is not enough: the run must still be the room's (Redis), and the
        # room and its transcription still active (PostgreSQL, which a lost Redis write after
        # the meeting ended cannot contradict).
        run = await self._runs.run(claims.room_id)
        if run is None or not run.room_active:
            await _refuse(socket, CloseCode.ROOM_ENDED, "room_ended", "The meeting has ended.")
            return
        if not run.active or not await self._run_is_current(claims):
            await _refuse(
                socket,
                CloseCode.NOT_ACTIVE,
                "transcription_not_active",
                "Transcription is not running in this room; start it again.",
            )
            return
        budget = self._settings.max_seconds_per_room - run.seconds
        if budget <= 0:
            await _refuse(
                socket,
                CloseCode.TIME_USED_UP,
                "transcription_limit_reached",
                "This room has used up its transcription time.",
            )
            return
        try:
            session = await self._gladia.open()
        except GladiaError as exc:
            log.warning("gladia_open_failed", code=exc.code)
            await _refuse(
                socket,
                CloseCode.INTERNAL,
                "transcription_unavailable",
                "The transcription service is unavailable; try again shortly.",
            )
            return
        # Offsets are seconds since the room was created: runs line up on one timeline.
        offset = time.time() - run.created_at.timestamp()
        async with self._pool.acquire() as conn:
            session_row = await transcript_store.open_session(
                conn, claims.room_id, claims.participant_id, session.id
            )
        self.connections.inc()
        relay = asyncio.create_task(self._relay(session, claims, offset))
        watch = asyncio.create_task(self._watch(socket, claims))
        audio_bytes, reason = 0, "client_closed"
        try:
            audio_bytes, reason = await self._pump(socket, session, budget)
        finally:
            watch.cancel()
            self.connections.dec()
            with contextlib.suppress(Exception):
                await session.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(relay, self._settings.gladia_timeout_seconds)
            relay.cancel()
            audio_seconds = audio_bytes / BYTES_PER_SECOND
            async with self._pool.acquire() as conn:
                await transcript_store.close_session(conn, session_row, audio_seconds, reason)
            await self._finish_run(claims)

    async def _pump(
        self, socket: WebSocket[Any, Any, Any], session: GladiaSession, budget: float
    ) -> tuple[int, str]:
        """Receive and forward audio until the client stops or a rule ends the socket."""
        settings = self._settings
        max_bytes, max_rate = (
            settings.chunk_max_bytes,
            settings.max_chunks_per_second,
        )
        audio_bytes, window, in_window = 0, int(time.monotonic()), 0
        try:
            while True:
                message = await socket.receive()
                if message["type"] == "websocket.disconnect":
                    code = message.get("code", CloseCode.NORMAL)
                    return audio_bytes, "shutdown" if code == CloseCode.RESTART else "client_closed"
                chunk = cast(bytes | None, message.get("bytes"))
                if chunk is None:
                    text = cast(str | None, message.get("text")) or ""
                    if '"stop"' in text:
                        await socket.close(code=CloseCode.NORMAL, reason="stopped")
                        return audio_bytes, "client_stopped"
                    self.chunks.labels("rejected").inc()
                    await socket.send_json(
                        {
                            "type": "error",
                            "code": "invalid_frame",
                            "message": "Send audio as binary frames.",
                        }
                    )
                    continue
                if not chunk or len(chunk) % 2:
                    raise _Ended(CloseCode.INVALID_DATA, "chunks must be PCM16: an even byte count")
                if len(chunk) > max_bytes:
                    raise _Ended(CloseCode.TOO_BIG, f"chunks are limited to {max_bytes} bytes")
                now = int(time.monotonic())
                if now != window:
                    window, in_window = now, 0
                in_window += 1
                if in_window > max_rate:
                    raise _Ended(CloseCode.POLICY, f"at most {max_rate} chunks per second")
                if (audio_bytes + len(chunk)) / BYTES_PER_SECOND > budget:
                    raise _Ended(CloseCode.TIME_USED_UP, "the room's transcription time is used up")
                audio_bytes += len(chunk)
                self.chunks.labels("accepted").inc()
                await session.send(chunk)
        except _Ended as ended:
            self.chunks.labels("rejected").inc()
            with contextlib.suppress(Exception):
                await socket.close(code=ended.code, reason=ended.reason)
            return audio_bytes, f"closed_{ended.code}"
        except GladiaError as exc:
            log.warning("gladia_session_failed", code=exc.code)
            with contextlib.suppress(Exception):
                await socket.close(code=CloseCode.INTERNAL, reason="transcription service failed")
            return audio_bytes, "gladia_failed"
        except (WebSocketDisconnect, RuntimeError):
            return audio_bytes, "client_closed"

    async def _relay(self, session: GladiaSession, claims: WorkerClaims, offset: float) -> None:
        room_id, participant_id = claims.room_id, claims.participant_id
        async for utterance in session:
            # Gladia numbers utterances per session; the session id makes them unique per room.
            utterance_id = f"{session.id}:{utterance.utterance_id}"
            start, end = round(offset + utterance.start, 3), round(offset + utterance.end, 3)
            kind = TranscriptFinal if utterance.is_final else TranscriptPartial
            event = kind(
                utterance_id=utterance_id,
                participant_id=participant_id,
                text=utterance.text,
                start=start,
                end=end,
                language=utterance.language,
            )
            await self._runs.events.transcript(room_id, event)
            if utterance.is_final:
                self._writer.put(
                    Segment(
                        room_id=room_id,
                        participant_id=participant_id,
                        utterance_id=utterance_id,
                        text=utterance.text,
                        language=utterance.language,
                        started_at=start,
                        ended_at=end,
                    )
                )

    async def _watch(self, socket: WebSocket[Any, Any, Any], claims: WorkerClaims) -> None:
        """Close the socket within a second once the run is over: stopped elsewhere (API, host
        left, new host) or the meeting ended. The run key is read every tick; PostgreSQL every
        few ticks, and whenever Redis cannot answer, so a run whose key delete was lost (Redis
        down as the meeting ended) still ends."""
        tick = 0
        while True:
            await asyncio.sleep(_WATCH_SECONDS)
            tick += 1
            over = await self._run_over(claims, ask_database=tick % _DATABASE_EVERY == 0)
            if over is not None:
                with contextlib.suppress(Exception):
                    await socket.close(code=over[0], reason=over[1])
                return

    async def _run_over(
        self, claims: WorkerClaims, *, ask_database: bool
    ) -> tuple[CloseCode, str] | None:
        """Why this run is over (a close code and reason), or None while it goes on."""
        stopped = False
        try:
            stopped = not await self._run_is_current(claims)
        except (RedisError, OSError):
            ask_database = True
        if not (stopped or ask_database):
            return None
        try:  # also when the key is gone: PostgreSQL tells a stop from the meeting's end
            run = await self._runs.run(claims.room_id)
        except (asyncpg.PostgresError, OSError):
            # Without PostgreSQL: a stop Redis saw stands; with neither store, keep streaming
            # rather than guess.
            return (CloseCode.NOT_ACTIVE, "transcription stopped") if stopped else None
        if run is None or not run.room_active:
            return CloseCode.ROOM_ENDED, "the meeting has ended"
        if stopped or not run.active:
            return CloseCode.NOT_ACTIVE, "transcription stopped"
        return None

    async def _run_is_current(self, claims: WorkerClaims) -> bool:
        run = await self._redis.get(run_key(claims.room_id))
        if isinstance(run, bytes):
            run = run.decode()
        return run == claims.run

    async def _finish_run(self, claims: WorkerClaims) -> None:
        """The audio stopped: if this run is still the room's, the room goes idle."""
        if not await self._run_is_current(claims):
            return
        await self._runs.finish(claims.room_id)


async def _refuse(socket: WebSocket[Any, Any, Any], code: int, error: str, message: str) -> None:
    with contextlib.suppress(Exception):
        await socket.send_json({"type": "error", "code": error, "message": message})
        await socket.close(code=code, reason=error)

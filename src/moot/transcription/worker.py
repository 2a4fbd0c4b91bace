"""The transcription worker: the host's audio in, Gladia in the middle, transcripts out.

`/ws/transcribe?token=` takes binary PCM16 16 kHz chunks from the transcription host's
browser, checks each (non-empty, whole frames, at most `transcription_chunk_max_bytes` per
channel, at most `transcription_max_chunks_per_second`, within the room's transcription time)
and forwards it to a Gladia live session. Partial and final transcripts go to the room's
channel (everyone's room WebSocket); finals also go to PostgreSQL through the batch writer.

Channels: a text frame `{"type": "channels", "participant_ids": [...]}` says that the binary
frames after it interleave that many channels, one per participant, in that order; until the
first one the audio is mono and the sender's. Gladia fixes the channel count of a session at
its start, so a new list opens a new Gladia session, and the previous one is stopped in the
background: its last finals still arrive, under the speakers it had, so nothing said across
the switch is lost. A list over `transcription_max_channels`, with a participant who was never
in the room, or malformed, is refused with an `error` event (`too_many_channels`,
`participant_not_found`, `invalid_frame`), and audio is dropped until a list is accepted:
audio whose channels nobody can name is never attributed to anyone.

Close codes: 4401 bad or expired token, 4409 the run is not (or no longer) active, 4410 the
meeting has ended, 4408 the room's transcription time is used up, 1007 a chunk that is not
whole PCM16 frames, 1009 a chunk too large, 1008 too many chunks per second, 1011 Gladia
failed, 1012 the worker is shutting down.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import datetime
from typing import Any, cast

import asyncpg
import msgspec
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

BYTES_PER_SECOND = 16_000 * 2  # PCM16 at 16 kHz, per channel
# How often an open audio socket checks that its run goes on (Redis), and every how many
# checks it asks PostgreSQL too: a stopped run or an ended meeting closes it within a second.
_WATCH_SECONDS = 0.5
_DATABASE_EVERY = 4


class _Ended(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class _ChannelsFrame(msgspec.Struct):
    participant_ids: list[uuid.UUID]


class _Refused(Exception):
    """A channels frame the worker does not take: the error event to answer it with."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.event = {"type": "error", "code": code, "message": message, **details}


class _Stream:
    """One Gladia session of an audio socket, and the speakers its channels stand for."""

    def __init__(
        self,
        session: GladiaSession,
        row: uuid.UUID,
        speakers: tuple[uuid.UUID, ...],
        offset: float,
        opened: datetime,
    ) -> None:
        self.session = session
        self.row = row  # its transcription_sessions row
        self.opened = opened  # its row's started_at (PostgreSQL's clock)
        self.cleared = False  # the host deleted the transcript since it opened
        self.speakers = speakers  # channel i is speakers[i]
        self.offset = offset  # seconds since the room was created when it opened
        self.bytes = 0
        self.relay: asyncio.Task[None] | None = None

    @property
    def channels(self) -> int:
        return len(self.speakers)

    @property
    def seconds(self) -> float:
        return self.bytes / (BYTES_PER_SECOND * self.channels)


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
            "Audio chunks, by outcome (accepted, rejected, dropped: no accepted channel list).",
            ["outcome"],
            registry=metrics.registry,
        )
        self.audio_seconds = Counter(
            "moot_transcription_audio_seconds",
            "Seconds of audio transcribed (closed Gladia sessions), all rooms.",
            registry=metrics.registry,
        )
        self.channel_seconds = Counter(
            "moot_transcription_channel_seconds",
            "Channel-seconds transcribed (what Gladia bills: seconds times channels), all rooms.",
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
        created_at = run.created_at.timestamp()
        try:
            stream = await self._open_stream(claims, (claims.participant_id,), created_at)
        except GladiaError:
            await _refuse(
                socket,
                CloseCode.INTERNAL,
                "transcription_unavailable",
                "The transcription service is unavailable; try again shortly.",
            )
            return
        self.connections.inc()
        watch = asyncio.create_task(self._watch(socket, claims))
        audio = _Audio(stream, budget)
        reason = "client_closed"
        try:
            reason = await self._pump(socket, claims, audio, created_at)
        finally:
            watch.cancel()
            self.connections.dec()
            await self._end_stream(audio.stream, claims, reason)
            if audio.ending:
                await asyncio.gather(*audio.ending, return_exceptions=True)
            await self._finish_run(claims)

    async def _open_stream(
        self, claims: WorkerClaims, speakers: tuple[uuid.UUID, ...], created_at: float
    ) -> _Stream:
        """A Gladia session of one channel per speaker, its row, and its relay running."""
        session = await self._gladia.open(len(speakers))
        # Offsets are seconds since the room was created: runs line up on one timeline.
        offset = time.time() - created_at
        async with self._pool.acquire() as conn:
            row = await transcript_store.open_session(
                conn, claims.room_id, claims.participant_id, session.id, len(speakers)
            )
            opened = await transcript_store.session_started(conn, row)
        stream = _Stream(session, row, speakers, offset, opened)
        stream.relay = asyncio.create_task(self._relay(stream, claims))
        return stream

    async def _end_stream(self, stream: _Stream, claims: WorkerClaims, reason: str) -> None:
        """Stop the Gladia session, relay its last finals, and record its usage."""
        with contextlib.suppress(Exception):
            await stream.session.stop()
        if stream.relay is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(stream.relay, self._settings.gladia_timeout_seconds)
            stream.relay.cancel()
        # If the host deleted the transcript while this session ran, its finals that were
        # still on their way go too, once the writer has them in the table (before the
        # session is recorded as closed: a closed session has nothing left to come).
        await self._writer.settled(claims.room_id, self._settings.gladia_timeout_seconds)
        async with self._pool.acquire() as conn:
            await transcript_store.delete_late(conn, stream.row)
        seconds = stream.seconds
        async with self._pool.acquire() as conn:
            closed = await transcript_store.close_session(conn, stream.row, seconds, reason)
        if closed:
            self.audio_seconds.inc(seconds)
            self.channel_seconds.inc(seconds * stream.channels)

    async def _switch(
        self,
        socket: WebSocket[Any, Any, Any],
        claims: WorkerClaims,
        audio: _Audio,
        text: str,
        created_at: float,
    ) -> None:
        """A channels frame: a new Gladia session for a new list of speakers."""
        try:
            speakers = await self._speakers(claims, text)
        except _Refused as refused:
            audio.accepting = False
            self.chunks.labels("rejected").inc()
            await socket.send_json(refused.event)
            return
        audio.accepting = True
        if speakers == audio.stream.speakers:
            return
        # Open the new session before stopping the old one: audio waits on the socket
        # meanwhile, and the old session's last words still come back under its speakers.
        previous = audio.stream
        audio.stream = await self._open_stream(claims, speakers, created_at)
        audio.spent += previous.seconds
        audio.ending.add(asyncio.create_task(self._end_stream(previous, claims, "channels")))

    async def _speakers(self, claims: WorkerClaims, text: str) -> tuple[uuid.UUID, ...]:
        try:
            frame = msgspec.json.decode(text, type=_ChannelsFrame)
        except msgspec.DecodeError:
            raise _Refused(
                "invalid_frame", "participant_ids must be a list of participant ids."
            ) from None
        speakers = tuple(frame.participant_ids)
        limit = self._settings.max_channels
        if not speakers or len(set(speakers)) != len(speakers):
            raise _Refused("invalid_frame", "participant_ids must name each speaker once.")
        if len(speakers) > limit:
            raise _Refused(
                "too_many_channels",
                f"At most {limit} channels are transcribed at once.",
                max_channels=limit,
            )
        known = await self._runs.members.attendees(claims.room_id, speakers)
        unknown = [str(who) for who in speakers if who not in known]
        if unknown:
            raise _Refused(
                "participant_not_found",
                "Some of participant_ids were never in this room.",
                participant_ids=unknown,
            )
        return speakers

    async def _pump(
        self,
        socket: WebSocket[Any, Any, Any],
        claims: WorkerClaims,
        audio: _Audio,
        created_at: float,
    ) -> str:
        """Receive and forward audio until the client stops or a rule ends the socket."""
        settings = self._settings
        max_rate = settings.max_chunks_per_second
        window, in_window = int(time.monotonic()), 0
        try:
            while True:
                message = await socket.receive()
                if message["type"] == "websocket.disconnect":
                    code = message.get("code", CloseCode.NORMAL)
                    return "shutdown" if code == CloseCode.RESTART else "client_closed"
                chunk = cast(bytes | None, message.get("bytes"))
                if chunk is None:
                    text = cast(str | None, message.get("text")) or ""
                    kind = _frame_type(text)
                    if kind == "stop":
                        await socket.close(code=CloseCode.NORMAL, reason="stopped")
                        return "client_stopped"
                    if kind == "channels":
                        await self._switch(socket, claims, audio, text, created_at)
                        continue
                    self.chunks.labels("rejected").inc()
                    await socket.send_json(
                        {
                            "type": "error",
                            "code": "invalid_frame",
                            "message": "Send audio as binary frames; text frames are "
                            '{"type": "channels", …} or {"type": "stop"}.',
                        }
                    )
                    continue
                stream = audio.stream
                frame = 2 * stream.channels
                if not chunk or len(chunk) % frame:
                    raise _Ended(
                        CloseCode.INVALID_DATA,
                        f"chunks must be whole PCM16 frames of {stream.channels} channel(s)",
                    )
                max_bytes = settings.chunk_max_bytes * stream.channels
                if len(chunk) > max_bytes:
                    raise _Ended(CloseCode.TOO_BIG, f"chunks are limited to {max_bytes} bytes")
                now = int(time.monotonic())
                if now != window:
                    window, in_window = now, 0
                in_window += 1
                if in_window > max_rate:
                    raise _Ended(CloseCode.POLICY, f"at most {max_rate} chunks per second")
                if not audio.accepting:
                    self.chunks.labels("dropped").inc()
                    continue
                seconds = len(chunk) / (BYTES_PER_SECOND * stream.channels)
                if audio.spent + stream.seconds + seconds > audio.budget:
                    raise _Ended(CloseCode.TIME_USED_UP, "the room's transcription time is used up")
                stream.bytes += len(chunk)
                self.chunks.labels("accepted").inc()
                await stream.session.send(chunk)
        except _Ended as ended:
            self.chunks.labels("rejected").inc()
            with contextlib.suppress(Exception):
                await socket.close(code=ended.code, reason=ended.reason)
            return f"closed_{ended.code}"
        except GladiaError as exc:
            log.warning("gladia_session_failed", code=exc.code)
            with contextlib.suppress(Exception):
                await socket.close(code=CloseCode.INTERNAL, reason="transcription service failed")
            return "gladia_failed"
        except (WebSocketDisconnect, RuntimeError):
            return "client_closed"

    async def _relay(self, stream: _Stream, claims: WorkerClaims) -> None:
        room_id, session = claims.room_id, stream.session
        async for utterance in session:
            if not 0 <= utterance.channel < stream.channels:
                log.warning("gladia_unknown_channel", session_id=session.id)
                continue
            speaker = stream.speakers[utterance.channel]
            # Gladia numbers utterances per session; the session id makes them unique per
            # room, and the channel keeps the speakers of one session apart.
            if stream.channels == 1:
                utterance_id = f"{session.id}:{utterance.utterance_id}"
            else:
                utterance_id = f"{session.id}:{utterance.channel}:{utterance.utterance_id}"
            offset = stream.offset
            start, end = round(offset + utterance.start, 3), round(offset + utterance.end, 3)
            if utterance.is_final and not stream.cleared:
                stream.cleared = await self._runs.cleared_since(room_id, stream.opened)
            if stream.cleared:
                continue  # spoken before the host deleted the transcript: it stays deleted
            kind = TranscriptFinal if utterance.is_final else TranscriptPartial
            event = kind(
                utterance_id=utterance_id,
                participant_id=speaker,
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
                        participant_id=speaker,
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


class _Audio:
    """What one audio socket streams into: the current Gladia session, the sessions being
    stopped after a switch, and the room's time."""

    def __init__(self, stream: _Stream, budget: float) -> None:
        self.stream = stream
        self.budget = budget  # seconds of audio the room has left
        self.spent = 0.0  # seconds sent to earlier sessions of this socket
        self.accepting = True  # False after a refused channels frame, until one is accepted
        self.ending: set[asyncio.Task[None]] = set()


def _frame_type(text: str) -> str | None:
    """The `type` of a JSON text frame, or None if it is not one."""
    try:
        frame = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return None
    kind = frame.get("type") if isinstance(frame, dict) else None
    return kind if isinstance(kind, str) else None


async def _refuse(socket: WebSocket[Any, Any, Any], code: int, error: str, message: str) -> None:
    with contextlib.suppress(Exception):
        await socket.send_json({"type": "error", "code": error, "message": message})
        await socket.close(code=code, reason=error)

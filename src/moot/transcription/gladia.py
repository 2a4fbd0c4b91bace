"""Gladia live v2 client: open a session, stream PCM16 audio, read partial and final transcripts.

The protocol, as documented by Gladia (docs.gladia.io, "api-reference/v2/live/*", its
asyncapi.yaml, "chapters/live-stt/getting-started") and as their own SDK (github.com/gladiaio/sdk)
drives it: `POST /v2/live` with `x-gladia-key` returns `{id, url}`; audio goes to the websocket
at `url` as binary frames; `transcript` messages come back; `{"type": "stop_recording"}` ends the
recording and Gladia closes the socket with 1000 once post-processing is done. A dropped
socket is resumed by connecting to the same `url` again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from moot.infra.metrics import Metrics

log = structlog.get_logger("moot.gladia")

SAMPLE_RATE = 16_000
BYTES_PER_SECOND = SAMPLE_RATE * 2  # PCM16 mono
BACKOFF_CAP = 2.0  # seconds; the Gladia SDK caps its websocket retry delay at 2 s
STOP_RECORDING = '{"type":"stop_recording"}'
# action/audio-chunk: "Keep chunks reasonably sized (≃ 100ms)", resent audio included.
RESEND_PIECE = BYTES_PER_SECOND // 10
NORMAL_CLOSURE = 1000
CLOSE_GRACE = 0.2  # seconds abort() waits for Gladia to answer its close frame


class Utterance(msgspec.Struct, frozen=True):
    utterance_id: str
    text: str
    start: float  # seconds since the session's first audio byte
    end: float
    language: str | None
    is_final: bool
    channel: int = 0  # which of the session's channels spoke it (0 in a mono session)


class GladiaError(Exception):
    """Gladia cannot (or can no longer) transcribe. `code` says why:

    auth            the API key was refused (401/403)
    config          Gladia refused the session configuration (other 4xx at init)
    init            `POST /v2/live` kept failing (network, timeouts, 5xx, 429)
    reconnects_exhausted  the websocket dropped (or never opened) and `max_reconnects`
                    attempts in a row to connect it failed
    session_closed  Gladia closed the session for good (a 4400-4499 close, or a refused URL)
    ended           audio sent after the session stopped or ended
    protocol        Gladia sent something this client cannot read
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# What we read of Gladia's websocket messages; msgspec ignores the fields not named here.
class _UtteranceBody(msgspec.Struct):
    text: str
    start: float
    end: float
    language: str | None = None
    # chapters/live-stt/features/multiple-channels: "For each utterance, you'll get a channel
    # key corresponding to the channel the utterance came from."
    channel: int = 0


class _TranscriptData(msgspec.Struct):
    id: str
    is_final: bool
    utterance: _UtteranceBody


class _AudioAckData(msgspec.Struct):
    byte_range: list[int]


class _ErrorBody(msgspec.Struct):
    message: str = ""


class _Message(msgspec.Struct):
    type: str
    data: msgspec.Raw = msgspec.Raw(b"null")
    acknowledged: bool | None = None
    error: _ErrorBody | None = None


class _InitResponse(msgspec.Struct):
    id: str
    url: str


class _End:
    """Queue marker: iteration is over."""


def backoff_delay(base: float, attempt: int) -> float:
    """Delay before reconnect attempt `attempt` (0-based): base * 2**attempt, capped."""
    return float(min(base * 2**attempt, BACKOFF_CAP))


def close_is_final(code: int) -> bool:
    """Whether a websocket close code ends the session rather than asking for a reconnect.

    getting-started: "If the code is equal to 1000, it means we closed intentionally the
    connection (after the end of the session for example). Otherwise, you can reconnect to the
    same url." Gladia's SDK (src/client.ts, default `closeCodes`) reconnects on 1002-4399 and
    4500-9999 but not on 4400-4499, the websocket's "your request is refused" range (an ended
    session's URL answers with one); we follow it there, and the docs for 1001.
    """
    return code == NORMAL_CLOSURE or 4400 <= code <= 4499


class GladiaClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float,
        max_reconnects: int,
        backoff_base: float = 0.2,
        metrics: Metrics | None = None,
        language: str = "",
        buffer_seconds: float = 30.0,
    ) -> None:
        self._api_key = api_key
        self._timeout = timeout
        self._max_reconnects = max_reconnects
        self._backoff_base = backoff_base
        self._metrics = metrics
        self._language = language
        self._buffer_bytes = int(buffer_seconds * BYTES_PER_SECOND)
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout)

    def init_body(self, channels: int = 1) -> dict[str, Any]:
        """The `POST /v2/live` body (api-reference/v2/live/init)."""
        return {
            # The worker's audio: raw PCM16 16 kHz, no WAV header ("No need to add WAV
            # headers to raw audio as the API supports both formats"), interleaved when it
            # has several channels, which Gladia splits and transcribes separately (and bills
            # per channel: chapters/limits-and-specifications/multiple-channels).
            "encoding": "wav/pcm",
            "bit_depth": 16,
            "sample_rate": SAMPLE_RATE,
            "channels": channels,
            # One language pins it; an empty list lets Gladia detect it (LiveV2LanguageConfig).
            "language_config": {
                "languages": [self._language] if self._language else [],
                "code_switching": False,
            },
            "messages_config": {
                # chapters/live-stt/features/partial-transcripts: partials and finals both
                # arrive as `transcript`, told apart by `is_final`.
                "receive_partial_transcripts": True,
                "receive_final_transcripts": True,
                # The SDK forces acknowledgments "for resume": their byte ranges say which
                # audio Gladia has, so a reconnect resends exactly the rest.
                "receive_acknowledgments": True,
                "receive_errors": True,
                "receive_speech_events": False,
                "receive_pre_processing_events": False,
                "receive_realtime_processing_events": False,
                "receive_post_processing_events": False,
                "receive_lifecycle_events": False,
            },
        }

    async def open(self, channels: int = 1) -> GladiaSession:
        """Create a live session of `channels` interleaved channels and connect its websocket;
        GladiaError if that fails."""
        created = await self._init_session(channels)
        session = GladiaSession(
            created.id,
            created.url,
            timeout=self._timeout,
            max_reconnects=self._max_reconnects,
            backoff_base=self._backoff_base,
            buffer_bytes=self._buffer_bytes * channels,
            metrics=self._metrics,
            channels=channels,
        )
        await session._start()
        return session

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _init_session(self, channels: int) -> _InitResponse:
        body = msgspec.json.encode(self.init_body(channels))
        headers = {"x-gladia-key": self._api_key, "content-type": "application/json"}
        failures = 0
        while True:
            try:
                response = await self._http.post("/v2/live", content=body, headers=headers)
            except httpx.HTTPError as exc:
                reason = f"POST /v2/live failed: {type(exc).__name__}"
                status = None
            else:
                status = response.status_code
                if status in (200, 201):  # 201 Created, as Gladia answers; 200 tolerated
                    try:
                        created = msgspec.json.decode(response.content, type=_InitResponse)
                    except msgspec.DecodeError as exc:
                        _count_error(self._metrics, "init")
                        raise GladiaError("protocol", "unreadable POST /v2/live answer") from exc
                    _count(self._metrics, "gladia_sessions")
                    log.info("gladia_session_created", session_id=created.id)
                    return created
                reason = f"POST /v2/live answered {status}: {_error_message(response)}"
                if status in (401, 403):
                    _count_error(self._metrics, "auth")
                    log.warning("gladia_init_refused", status=status)
                    raise GladiaError("auth", reason)
                if 400 <= status < 500 and status not in (408, 429):
                    _count_error(self._metrics, "config")
                    log.warning("gladia_init_refused", status=status)
                    raise GladiaError("config", reason)
            # Network trouble, timeouts, 408, 429 and 5xx are worth another try (the SDK's HTTP
            # retry list is 408, 413, 429 and 5xx).
            _count_error(self._metrics, "init")
            log.warning("gladia_init_failed", status=status, attempt=failures + 1)
            if failures >= self._max_reconnects:
                raise GladiaError("init", reason)
            await asyncio.sleep(backoff_delay(self._backoff_base, failures))
            failures += 1


class GladiaSession:
    """One live session: `send` audio, iterate for transcripts, then `stop` (or `abort`).

    Resuming after a drop: Gladia acknowledges audio with the session-wide `byte_range` it has
    received (api-reference/v2/live/callback/audio-chunk-ack). Everything sent but not yet
    acknowledged stays in a bounded buffer; after reconnecting to the same URL the buffer is
    sent again first, so Gladia receives every byte once and in order. The SDK resumes the
    same way (src/v2/live/session.ts: keep `audioBuffer` until acked, send it again on open).
    """

    def __init__(
        self,
        id: str,
        url: str,
        *,
        timeout: float,
        max_reconnects: int,
        backoff_base: float,
        buffer_bytes: int,
        metrics: Metrics | None,
        channels: int = 1,
    ) -> None:
        self.id = id
        self.url = url
        self.channels = channels
        # One sample of every channel: what is dropped or resent is cut at frame edges, so
        # the channels Gladia splits never shift.
        self._frame = 2 * channels
        self._resend_piece = RESEND_PIECE * channels
        self._timeout = timeout
        self._max_reconnects = max_reconnects
        self._backoff_base = backoff_base
        self._buffer_limit = buffer_bytes
        self._metrics = metrics
        self._ws: ClientConnection | None = None
        self._send_lock = asyncio.Lock()
        self._unacked = bytearray()  # audio Gladia has not acknowledged, oldest first
        self._acked = 0  # session byte offset Gladia acknowledged up to (= start of _unacked)
        self._overflowing = False
        self._queue: asyncio.Queue[Utterance | GladiaError | _End] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._stopping = False
        self._aborted = False
        self._failure: GladiaError | None = None
        self._ended = False
        self._attempts_in_a_row = 0

    # -- the worker's side ------------------------------------------------------------------

    async def send(self, chunk: bytes) -> None:
        """Forward audio; while reconnecting it is buffered and sent once the socket is back."""
        if self._failure is not None:
            raise self._failure
        if self._ended or self._stopping or self._aborted:
            raise GladiaError("ended", "the Gladia session is stopped")
        async with self._send_lock:
            ws = self._ws
            if ws is None and len(self._unacked) + len(chunk) > self._buffer_limit:
                # Reconnecting with a full buffer: drop the new audio, not the oldest. What was
                # sent keeps its byte offsets, so Gladia's acknowledgments stay true.
                self._overflow("dropping audio while reconnecting")
                return
            self._unacked += chunk
            excess = len(self._unacked) - self._buffer_limit
            if excess > 0:
                # Connected, yet Gladia acknowledges nothing: forget the oldest audio (it was
                # sent; it just cannot be sent again after a drop).
                excess += -excess % self._frame
                del self._unacked[:excess]
                self._acked += excess
                self._overflow("Gladia is not acknowledging audio")
            else:
                self._overflowing = False
            if ws is None:
                return  # buffered: the reader sends it once reconnected
            try:
                async with asyncio.timeout(self._timeout):
                    await ws.send(chunk)
            except ConnectionClosed:
                pass  # the reader sees the drop too; the chunk is in the buffer for the resend
            except TimeoutError:
                log.warning("gladia_send_timed_out", session_id=self.id)
                ws.transport.abort()  # the reader reconnects and resends

    def __aiter__(self) -> AsyncIterator[Utterance]:
        return self._utterances()

    async def stop(self, timeout: float = 10) -> None:  # noqa: ASYNC109 (the interface's)
        """Stop recording, keep reading finals until Gladia closes (at most `timeout`), close."""
        if self._reader is None or self._reader.done():
            await self._close_socket()
            return
        if not self._stopping:
            self._stopping = True
            log.info("gladia_stopping", session_id=self.id)
            # action/stop-recording: "After reception, no more audio chunk will be accepted and
            # post-processing will start." If we are reconnecting, the reader sends it later.
            async with self._send_lock:
                if self._ws is not None:
                    with contextlib.suppress(ConnectionClosed, TimeoutError):
                        async with asyncio.timeout(self._timeout):
                            await self._ws.send(STOP_RECORDING)
        try:
            await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        except TimeoutError:
            log.warning("gladia_stop_timed_out", session_id=self.id)
            await self.abort()

    async def abort(self) -> None:
        """Close now, without waiting for the remaining finals."""
        self._aborted = True
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._close_socket()
        self._finish(None)

    # -- the reader: messages in, reconnects --------------------------------------------------

    async def _start(self) -> None:
        failure = await self._connect(reconnecting=False)
        if failure is not None:
            raise failure
        self._reader = asyncio.create_task(self._read(), name=f"gladia-{self.id}")

    async def _read(self) -> None:
        try:
            while True:
                ws = self._ws
                assert ws is not None
                code = await self._read_connection(ws)
                self._ws = None
                if code == NORMAL_CLOSURE:
                    # getting-started: "Once the post-processing is done, the WebSocket is
                    # closed with a code 1000."
                    log.info("gladia_session_closed", session_id=self.id, stopped=self._stopping)
                    self._finish(None)
                    return
                if close_is_final(code):
                    _count_error(self._metrics, "server")
                    reason = f"Gladia closed the session ({code})"
                    self._finish(GladiaError("session_closed", reason))
                    return
                _count_error(self._metrics, "disconnect")
                log.warning("gladia_disconnected", session_id=self.id, code=code)
                failure = await self._connect(reconnecting=True)
                if failure is not None:
                    self._finish(failure)
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("gladia_reader_failed", session_id=self.id)
            self._finish(GladiaError("protocol", "the Gladia session failed unexpectedly"))

    async def _read_connection(self, ws: ClientConnection) -> int:
        """Handle messages until the socket closes; return the close code (1006 if none)."""
        try:
            async for raw in ws:
                self._attempts_in_a_row = 0  # the socket works: the next drop starts afresh
                self._handle(raw)
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd is not None else 1006
        return ws.close_code or NORMAL_CLOSURE

    async def _connect(self, *, reconnecting: bool) -> GladiaError | None:
        """Connect to the session URL (again) and resend unacknowledged audio; None if done.

        asyncapi.yaml (servers.real-time): "The same URL can be reused after recoverable
        disconnects." Attempts count "in a row" until a connection delivers a message: a socket
        that opens and dies at once must not reset the backoff, or it would loop forever.
        """
        retry = reconnecting
        while True:
            if retry:
                if self._attempts_in_a_row >= self._max_reconnects:
                    log.warning("gladia_reconnects_exhausted", session_id=self.id)
                    return GladiaError(
                        "reconnects_exhausted",
                        f"could not connect the Gladia websocket: {self._max_reconnects} "
                        "attempts in a row failed",
                    )
                await asyncio.sleep(backoff_delay(self._backoff_base, self._attempts_in_a_row))
                self._attempts_in_a_row += 1
            retry = True
            try:
                ws = await connect(
                    self.url,
                    open_timeout=self._timeout,
                    close_timeout=self._timeout,
                    ping_interval=self._timeout,
                    ping_timeout=self._timeout,
                )
            except InvalidStatus as exc:
                status = exc.response.status_code
                log.warning("gladia_connect_refused", session_id=self.id, status=status)
                if 400 <= status < 500 and status not in (408, 429):
                    _count_error(self._metrics, "auth" if status in (401, 403) else "server")
                    reason = f"Gladia refused the session URL ({status})"
                    return GladiaError("session_closed", reason)
                _count_error(self._metrics, "connect")
                continue
            except (OSError, TimeoutError, WebSocketException) as exc:
                log.warning("gladia_connect_failed", session_id=self.id, error=type(exc).__name__)
                _count_error(self._metrics, "connect")
                continue
            try:
                async with self._send_lock, asyncio.timeout(self._timeout):
                    # Audio sent in the meantime waits on the lock, so it follows the resend.
                    resent = len(self._unacked)
                    pending = bytes(self._unacked)
                    piece = self._resend_piece
                    for at in range(0, len(pending), piece):
                        await ws.send(pending[at : at + piece])
                    if self._stopping:
                        await ws.send(STOP_RECORDING)
                    self._ws = ws
            except (ConnectionClosed, TimeoutError):
                log.warning("gladia_resend_failed", session_id=self.id)
                _count_error(self._metrics, "connect")
                ws.transport.abort()
                continue
            except asyncio.CancelledError:  # abort() during the resend: leave nothing open
                ws.transport.abort()
                raise
            if reconnecting:
                _count(self._metrics, "gladia_reconnects")
                log.info("gladia_reconnected", session_id=self.id, resent_bytes=resent)
            return None

    def _handle(self, raw: str | bytes) -> None:
        try:
            message = msgspec.json.decode(raw, type=_Message)
        except msgspec.DecodeError:
            _count_error(self._metrics, "protocol")
            log.warning("gladia_unreadable_message", session_id=self.id)
            return
        if message.type == "error" or message.error is not None or message.acknowledged is False:
            # Refused actions carry `acknowledged: false` and `error: {message}`
            # (message/stop-recording-ack, callback/audio-chunk-ack); add-on results carry
            # `error` too. Gladia's message is about the request, never the audio or the text.
            # Errors that end the session arrive as a 4400-4499 close (see close_is_final).
            _count_error(self._metrics, "server" if message.type == "error" else "protocol")
            log.warning(
                "gladia_error_message",
                session_id=self.id,
                type=message.type,
                message=(message.error.message if message.error else "")[:200],
            )
            return
        if message.type == "transcript":
            try:
                data = msgspec.json.decode(message.data, type=_TranscriptData)
            except msgspec.DecodeError:
                _count_error(self._metrics, "protocol")
                log.warning("gladia_unreadable_transcript", session_id=self.id)
                return
            self._queue.put_nowait(
                Utterance(
                    utterance_id=data.id,
                    text=data.utterance.text,
                    start=data.utterance.start,
                    end=data.utterance.end,
                    language=data.utterance.language,
                    is_final=data.is_final,
                    channel=data.utterance.channel,
                )
            )
        elif message.type == "audio_chunk":
            try:
                ack = msgspec.json.decode(message.data, type=_AudioAckData)
            except msgspec.DecodeError:
                _count_error(self._metrics, "protocol")
                return
            if len(ack.byte_range) == 2:
                self._acknowledged(ack.byte_range[1])
        # Everything else (stop_recording ack, lifecycle, speech events) needs no action.

    def _acknowledged(self, end: int) -> None:
        """Gladia has the session's audio up to byte `end`: drop it from the resend buffer."""
        done = end - self._acked
        if done > 0:
            del self._unacked[:done]
            self._acked = end

    # -- endings ------------------------------------------------------------------------------

    def _finish(self, failure: GladiaError | None) -> None:
        if self._ended:
            return
        self._ended = True
        if failure is not None:
            self._failure = failure
            self._queue.put_nowait(failure)
        else:
            self._queue.put_nowait(_End())

    async def _utterances(self) -> AsyncIterator[Utterance]:
        while True:
            item = await self._queue.get()
            if isinstance(item, _End):
                self._queue.put_nowait(item)  # a second iteration ends at once too
                return
            if isinstance(item, GladiaError):
                self._queue.put_nowait(_End())
                raise item
            yield item

    async def _close_socket(self) -> None:
        """Close with 1000; the close frame goes out at once, the handshake gets a moment.

        getting-started: closing with 1000 instead of stop_recording still lets Gladia finish
        post-processing in the background, so an abort loses no stored result.
        """
        ws, self._ws = self._ws, None
        if ws is None:
            return
        try:
            async with asyncio.timeout(CLOSE_GRACE):
                await ws.close(NORMAL_CLOSURE)
        except TimeoutError:
            ws.transport.abort()
        except Exception:  # noqa: S110 - closing a connection that is already gone
            pass

    def _overflow(self, why: str) -> None:
        _count_error(self._metrics, "overflow")
        if not self._overflowing:
            self._overflowing = True
            log.warning(
                "gladia_buffer_full",
                session_id=self.id,
                reason=why,
                buffer_seconds=self._buffer_limit / BYTES_PER_SECOND,
            )


def _count(metrics: Metrics | None, name: str) -> None:
    if metrics is not None:
        getattr(metrics, name).inc()


def _count_error(metrics: Metrics | None, kind: str) -> None:
    if metrics is not None:
        metrics.gladia_errors.labels(kind).inc()


def _error_message(response: httpx.Response) -> str:
    """Gladia's error bodies carry a `message`; keep it short for the exception text."""
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return response.reason_phrase
    message = body.get("message") if isinstance(body, dict) else None
    return str(message)[:200] if message else response.reason_phrase

"""A Gladia live v2 stand-in on a loopback socket: `POST /v2/live` and the session websocket.

It speaks what docs.gladia.io documents (api-reference/v2/live/init, the websocket's
asyncapi.yaml, chapters/live-stt/getting-started): the init call checks `x-gladia-key` and the
audio format and answers 201 `{id, created_at, url}`; the websocket at `url` takes audio as
binary frames (or `audio_chunk` JSON with base64), acknowledges it with session-wide byte ranges,
and sends `transcript` messages; `stop_recording` gets the last final, the stop acknowledgment,
the post-processing and lifecycle messages the session asked for, then a 1000 close.

Transcripts are derived from the bytes: a partial every `partial_every_bytes`, a final every
`final_every_bytes`, times in seconds of audio (bytes / bytes per second), text "utterance N"
or the scripted `texts`. A session of several channels (`channels` in the init) is split as
Gladia splits it: each channel of the interleaved PCM is transcribed on its own (its own
utterances, `channel` on each, counted in that channel's bytes), a channel that carried only
zeros for a whole utterance says nothing, and `channel_texts[c]` scripts channel c.
Failures are scripted on the state object (`drop_after_bytes`, `error_after_bytes`,
`refuse_reconnects`, `reject_key`, ...). Everything received and sent is recorded per session
for the tests to look at.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

API_KEY = "gladia-standin-key"
ENCODINGS = {"wav/pcm", "wav/alaw", "wav/ulaw"}
BIT_DEPTHS = {8, 16, 24, 32}
SAMPLE_RATES = {8000, 16000, 32000, 44100, 48000}
# messages_config defaults, as the init reference's example body shows them.
MESSAGE_DEFAULTS = {
    "receive_partial_transcripts": False,
    "receive_final_transcripts": True,
    "receive_speech_events": True,
    "receive_pre_processing_events": True,
    "receive_realtime_processing_events": True,
    "receive_post_processing_events": True,
    "receive_acknowledgments": True,
    "receive_errors": True,
    "receive_lifecycle_events": False,
}


@dataclass
class ChannelState:
    """One channel's open utterance: its number, the channel byte where it began, the partials
    sent for it, whether it has heard anything but zeros."""

    utterance: int = 0
    utterance_start: int = 0
    partials: int = 0
    voiced: bool = False


@dataclass
class LiveSession:
    id: str
    token: str
    init_body: dict[str, Any]
    bytes_per_second: int
    bytes_received: int = 0  # audio accepted, in order, over all connections
    connections: int = 0  # websockets accepted for this session
    refused: int = 0  # websocket attempts refused by `refuse_reconnects`
    stopped: bool = False  # stop_recording received
    closed: bool = False  # over: closed with 1000 after the stop, or with a final code
    close_codes: list[int | None] = field(default_factory=list)  # per connection; None: aborted
    rejected_chunks: int = 0
    late_bytes: int = 0  # audio after stop_recording, which Gladia no longer accepts
    sent: list[dict[str, Any]] = field(default_factory=list)  # every message sent, in order
    received: list[dict[str, Any]] = field(default_factory=list)  # every JSON message received
    channels: int = 1
    heard: list[ChannelState] = field(default_factory=list)  # per channel
    dropped: bool = False
    errored: bool = False
    refuse_left: int = 0

    @property
    def seconds(self) -> float:
        return self.bytes_received / self.bytes_per_second

    def wants(self, kind: str) -> bool:
        config = self.init_body.get("messages_config") or {}
        return bool(config.get(kind, MESSAGE_DEFAULTS[kind]))

    def types(self) -> list[str]:
        return [message["type"] for message in self.sent]

    def transcripts(self) -> list[dict[str, Any]]:
        return [message["data"] for message in self.sent if message["type"] == "transcript"]

    @property
    def channel_bytes(self) -> int:
        """Bytes of audio each channel has received."""
        return self.bytes_received // self.channels


@dataclass
class GladiaState:
    base_url: str = ""
    api_key: str = API_KEY
    sessions: dict[str, LiveSession] = field(default_factory=dict)
    init_keys: list[str | None] = field(default_factory=list)  # x-gladia-key of each init
    # Transcripts
    partial_every_bytes: int = 16_000
    final_every_bytes: int = 32_000
    texts: list[str] = field(default_factory=list)  # cycled; empty: "utterance N"
    channel_texts: list[list[str]] = field(default_factory=list)  # per channel, else `texts`
    language: str = "en"
    post_processing_delay: float = 0.0  # seconds between the stop ack and the end
    # Failures
    reject_key: bool = False  # refuse every key, the right one too (revoked)
    init_status: int | None = None  # answer every init with this status
    fail_inits: int = 0  # answer the next N inits with 503
    drop_after_bytes: int | None = None  # once per session, when the audio crosses this
    drop_code: int | None = None  # None: abort the TCP connection; else close with it
    refuse_reconnects: int = 0  # after a drop, refuse this many websocket attempts (-1: all)
    error_after_bytes: int | None = None  # once per session: refuse that chunk with an error
    error_message: str = "Audio chunk rejected: stand-in told to refuse it"

    @property
    def session(self) -> LiveSession:
        """The only session (most tests open one)."""
        (only,) = self.sessions.values()
        return only

    def session_list(self) -> list[LiveSession]:
        """Every session, in the order they were opened."""
        return list(self.sessions.values())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _http_error(request: web.Request, status: int, message: str, **extra: Any) -> web.Response:
    """Gladia's error body: status and message, with the request's id and path."""
    return web.json_response(
        {
            "timestamp": _now(),
            "path": request.path,
            "request_id": f"G-{secrets.token_hex(4)}",
            "statusCode": status,
            "message": message,
            **extra,
        },
        status=status,
    )


def _validate(body: Any) -> tuple[int, str, list[str]] | None:
    """(status, message, validation errors) for a body Gladia would refuse, else None."""
    if not isinstance(body, dict):
        return 400, "Invalid parameters", ["body must be a JSON object"]
    errors = []
    encoding = body.get("encoding", "wav/pcm")
    bit_depth = body.get("bit_depth", 16)
    sample_rate = body.get("sample_rate", 16000)
    channels = body.get("channels", 1)
    if encoding not in ENCODINGS:
        errors.append(f"encoding must be one of {sorted(ENCODINGS)}")
    if bit_depth not in BIT_DEPTHS:
        errors.append(f"bit_depth must be one of {sorted(BIT_DEPTHS)}")
    if sample_rate not in SAMPLE_RATES:
        errors.append(f"sample_rate must be one of {sorted(SAMPLE_RATES)}")
    if not isinstance(channels, int) or not 1 <= channels <= 8:
        errors.append("channels must be an integer from 1 to 8")
    languages = (body.get("language_config") or {}).get("languages", [])
    if not isinstance(languages, list) or not all(
        isinstance(code, str) and 2 <= len(code) <= 3 for code in languages
    ):
        errors.append("language_config.languages must be language codes")
    if errors:
        return 400, "Invalid parameters", errors
    if encoding in ("wav/alaw", "wav/ulaw") and bit_depth != 8:
        return 422, "A-law and μ-law audio is 8 bits", []
    return None


class _Handler:
    def __init__(self, state: GladiaState) -> None:
        self.state = state

    async def init(self, request: web.Request) -> web.Response:
        state = self.state
        key = request.headers.get("x-gladia-key")
        state.init_keys.append(key)
        if state.reject_key or key != state.api_key:
            return _http_error(request, 401, "Invalid or missing x-gladia-key")
        if state.init_status is not None:
            return _http_error(request, state.init_status, "stand-in told to fail")
        if state.fail_inits > 0:
            state.fail_inits -= 1
            return _http_error(request, 503, "Service Unavailable")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _http_error(request, 400, "Body is not JSON")
        refused = _validate(body)
        if refused is not None:
            status, message, errors = refused
            return _http_error(request, status, message, validation_errors=errors)
        session_id, token = str(uuid.uuid4()), secrets.token_urlsafe(16)
        channels = body.get("channels", 1)
        sample_bytes = body.get("bit_depth", 16) // 8 * channels
        bytes_per_second = body.get("sample_rate", 16000) * sample_bytes
        state.sessions[session_id] = LiveSession(
            session_id,
            token,
            body,
            bytes_per_second,
            channels=channels,
            heard=[ChannelState() for _ in range(channels)],
        )
        host = request.url.host
        port = request.url.port
        return web.json_response(
            {
                "id": session_id,
                "created_at": _now(),
                "url": f"ws://{host}:{port}/v2/live?token={token}",
            },
            status=201,
        )

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        token = request.query.get("token", "")
        session = next((s for s in self.state.sessions.values() if s.token == token), None)
        if session is None:
            return _http_error(request, 401, "Invalid session token")
        if session.refuse_left != 0:
            session.refuse_left -= 1
            session.refused += 1
            return _http_error(request, 503, "Service Unavailable")
        ws = web.WebSocketResponse(max_msg_size=4 * 1024 * 1024)
        await ws.prepare(request)
        session.connections += 1
        if session.closed:
            # An ended session's URL still completes the handshake, then closes for good.
            await ws.close(code=4403, message=b"session is over")
            session.close_codes.append(4403)
            return ws
        if session.connections == 1 and session.wants("receive_lifecycle_events"):
            await self._send(ws, session, "start_session")
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                going_on = await self._audio(ws, request, session, msg.data)
            elif msg.type == WSMsgType.TEXT:
                going_on = await self._text(ws, request, session, msg.data)
            else:
                going_on = True
            if not going_on:
                return ws
        session.close_codes.append(ws.close_code)
        return ws

    async def _text(
        self, ws: web.WebSocketResponse, request: web.Request, session: LiveSession, text: str
    ) -> bool:
        try:
            message = json.loads(text)
        except ValueError:
            await ws.close(code=1003, message=b"messages are JSON")
            return False
        session.received.append(message)
        if message.get("type") == "audio_chunk":
            try:
                chunk = base64.b64decode(message["data"]["chunk"], validate=True)
            except (KeyError, TypeError, binascii.Error):
                await self._send(
                    ws,
                    session,
                    "audio_chunk",
                    acknowledged=False,
                    error={"message": "data.chunk must be base64"},
                    data=None,
                )
                return True
            return await self._audio(ws, request, session, chunk)
        if message.get("type") == "stop_recording":
            await self._stop(ws, session)
            return False
        return True

    async def _audio(
        self, ws: web.WebSocketResponse, request: web.Request, session: LiveSession, chunk: bytes
    ) -> bool:
        """Take one chunk; False once this connection is gone."""
        state = self.state
        if session.stopped:
            session.late_bytes += len(chunk)
            return True
        before = session.bytes_received
        after = before + len(chunk)
        drop_at, error_at = state.drop_after_bytes, state.error_after_bytes
        if drop_at is not None and not session.dropped and after > drop_at:
            # The crossing chunk is lost with the connection: Gladia never acknowledged it.
            session.dropped = True
            session.refuse_left = state.refuse_reconnects
            if state.drop_code is None:
                assert request.transport is not None
                request.transport.abort()
                session.close_codes.append(None)
                return False
            if 4400 <= state.drop_code <= 4499:
                session.closed = True
            await ws.close(code=state.drop_code, message=b"stand-in drop")
            session.close_codes.append(state.drop_code)
            return False
        if error_at is not None and not session.errored and after > error_at:
            session.errored = True
            session.rejected_chunks += 1
            if session.wants("receive_errors"):
                await self._send(
                    ws,
                    session,
                    "audio_chunk",
                    acknowledged=False,
                    error={"message": state.error_message},
                    data=None,
                )
            return True
        if before == 0 and session.wants("receive_lifecycle_events"):
            await self._send(ws, session, "start_recording")
        session.bytes_received = after
        if session.wants("receive_acknowledgments"):
            rate = session.bytes_per_second
            await self._send(
                ws,
                session,
                "audio_chunk",
                acknowledged=True,
                error=None,
                data={
                    "byte_range": [before, after],
                    "time_range": [round(before / rate, 3), round(after / rate, 3)],
                },
            )
        for channel, voiced in enumerate(_voiced(chunk, session.channels)):
            # A mono session transcribes whatever it gets (the tests stream silence); a channel
            # of a multi-channel one is silent until it carries something other than zeros.
            session.heard[channel].voiced |= voiced or session.channels == 1
        for channel in range(session.channels):
            await self._transcripts(ws, session, channel)
        return True

    async def _transcripts(
        self, ws: web.WebSocketResponse, session: LiveSession, channel: int
    ) -> None:
        final_every, partial_every = self.state.final_every_bytes, self.state.partial_every_bytes
        heard = session.heard[channel]
        while session.channel_bytes - heard.utterance_start >= final_every:
            await self._final(ws, session, channel, heard.utterance_start + final_every)
        reached = (session.channel_bytes - heard.utterance_start) // partial_every
        if (
            reached > heard.partials
            and heard.voiced
            and session.wants("receive_partial_transcripts")
        ):
            heard.partials = reached
            end = heard.utterance_start + reached * partial_every
            await self._transcript(ws, session, channel, end, is_final=False)

    async def _final(
        self, ws: web.WebSocketResponse, session: LiveSession, channel: int, end: int
    ) -> None:
        heard = session.heard[channel]
        if heard.voiced and session.wants("receive_final_transcripts"):
            await self._transcript(ws, session, channel, end, is_final=True)
        if heard.voiced:
            heard.utterance += 1
        heard.utterance_start = end
        heard.partials = 0
        heard.voiced = session.channels == 1

    async def _transcript(
        self,
        ws: web.WebSocketResponse,
        session: LiveSession,
        channel: int,
        end: int,
        *,
        is_final: bool,
    ) -> None:
        state = self.state
        heard = session.heard[channel]
        number = heard.utterance
        texts = state.channel_texts[channel] if channel < len(state.channel_texts) else state.texts
        text = texts[number % len(texts)] if texts else f"utterance {number + 1}"
        words = text.split()
        if not is_final:  # a partial has heard part of the utterance: the first words
            part = (end - heard.utterance_start) / state.final_every_bytes
            words = words[: max(1, round(len(words) * part))]
        rate = session.bytes_per_second // session.channels  # one channel's bytes per second
        start_s, end_s = heard.utterance_start / rate, end / rate
        step = (end_s - start_s) / max(1, len(words))
        await self._send(
            ws,
            session,
            "transcript",
            data={
                "id": f"{channel:02d}-{number:08d}",
                "is_final": is_final,
                "utterance": {
                    "start": round(start_s, 3),
                    "end": round(end_s, 3),
                    "confidence": 0.9,
                    "channel": channel,
                    "words": [
                        {
                            "word": word,
                            "start": round(start_s + i * step, 3),
                            "end": round(start_s + (i + 1) * step, 3),
                            "confidence": 0.9,
                        }
                        for i, word in enumerate(words)
                    ],
                    "text": " ".join(words),
                    "language": state.language,
                },
            },
        )

    async def _stop(self, ws: web.WebSocketResponse, session: LiveSession) -> None:
        """stop_recording: last final, acknowledgment, post-processing, end, close 1000."""
        session.stopped = True
        for channel, heard in enumerate(session.heard):
            if session.channel_bytes > heard.utterance_start:
                await self._final(ws, session, channel, session.channel_bytes)
        duration = round(session.seconds, 3)
        if session.wants("receive_acknowledgments"):
            await self._send(
                ws,
                session,
                "stop_recording",
                acknowledged=True,
                error=None,
                data={"recording_duration": duration, "recording_left_to_process": 0},
            )
        if self.state.post_processing_delay:
            await asyncio.sleep(self.state.post_processing_delay)
        if session.wants("receive_lifecycle_events"):
            await self._send(ws, session, "end_recording", data={"recording_duration": duration})
        if session.wants("receive_post_processing_events"):
            utterances = [m["utterance"] for m in session.transcripts() if m["is_final"]]
            transcription = {
                "full_transcript": " ".join(u["text"] for u in utterances),
                "languages": [self.state.language],
                "utterances": utterances,
            }
            await self._send(ws, session, "post_transcript", data=transcription)
            await self._send(
                ws,
                session,
                "post_final_transcript",
                data={
                    "metadata": {
                        "audio_duration": duration,
                        "number_of_distinct_channels": session.channels,
                        "billing_time": duration,
                        "transcription_time": 0.1,
                    },
                    "transcription": transcription,
                },
            )
        if session.wants("receive_lifecycle_events"):
            await self._send(ws, session, "end_session")
        session.closed = True
        await ws.close(code=1000)
        session.close_codes.append(1000)

    async def _send(
        self, ws: web.WebSocketResponse, session: LiveSession, type_: str, **fields: Any
    ) -> None:
        message = {"session_id": session.id, "created_at": _now(), "type": type_, **fields}
        session.sent.append(message)
        await ws.send_str(json.dumps(message))


def _voiced(chunk: bytes, channels: int) -> list[bool]:
    """For each channel of interleaved PCM16, whether any of its samples is not zero."""
    samples = memoryview(chunk).cast("h") if len(chunk) % 2 == 0 else memoryview(b"").cast("h")
    return [any(samples[channel::channels]) for channel in range(channels)]


class GladiaStandIn:
    """`async with GladiaStandIn(**script) as gladia:` serves on a free loopback port."""

    def __init__(self, **script: Any) -> None:
        self.state = GladiaState()
        for name, value in script.items():
            if not hasattr(self.state, name):
                raise TypeError(f"GladiaState has no {name!r}")
            setattr(self.state, name, value)
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> GladiaState:
        handler = _Handler(self.state)
        app = web.Application()
        app.router.add_post("/v2/live", handler.init)
        app.router.add_get("/v2/live", handler.websocket)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self.state.base_url = f"http://127.0.0.1:{port}"
        return self.state

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

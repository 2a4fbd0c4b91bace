"""moot's configuration: one msgspec Struct read from MOOT_* variables, `.env` and `.env.local`.

Precedence, lowest first: field defaults, `.env`, `.env.local`, the process environment.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

import msgspec
from dotenv.parser import parse_stream
from limits import parse_many

if TYPE_CHECKING:
    from moot.media.ice import FallbackServer

ENV_PREFIX = "MOOT_"

Seconds = Annotated[int, msgspec.Meta(ge=1)]
Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]


# An SMTP URL's scheme: how the connection is secured, and the port it defaults to.
_SMTP_SCHEMES: dict[str, tuple[Literal["none", "starttls", "implicit"], int]] = {
    "smtp": ("none", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("implicit", 465),
}


class ConfigError(Exception):
    """Configuration that moot cannot start with; the message names the variable."""


class ChatSettings(msgspec.Struct, kw_only=True, frozen=True):
    """What the chat domain reads (`Settings.chat()`)."""

    message_max_length: int
    history_default_limit: int
    history_max_limit: int


class RealtimeSettings(msgspec.Struct, kw_only=True, frozen=True):
    """What the topic log, the hub and the gateway read (`Settings.realtime()`)."""

    ttl_seconds: int  # a room's events (and chat) expire this long after the last one
    events_kept: int
    max_frame_bytes: int
    send_queue_size: int


class MessageSettings(msgspec.Struct, kw_only=True, frozen=True):
    """What the durable message store reads (`Settings.messages()`)."""

    message_max_length: int


class ChannelSettings(msgspec.Struct, kw_only=True, frozen=True):
    """What the channel domain and its topic read (`Settings.channels()`)."""

    access_check_seconds: float  # how often open channel subscriptions are re-checked
    typing_per_second: float


class MailSettings(msgspec.Struct, kw_only=True, frozen=True):
    """How moot sends mail (`Settings.mail()`; None without MOOT_SMTP_URL), parsed once."""

    host: str
    port: int
    # smtp:// (STARTTLS if the server offers it), smtp+starttls:// (required), smtps://
    tls: Literal["none", "starttls", "implicit"]
    username: str | None
    password: str | None
    sender: str  # the From address
    public_url: str  # where links in mail point: MOOT_PUBLIC_URL, no trailing slash
    timeout_seconds: float


class RoomSettings(msgspec.Struct, kw_only=True, frozen=True):
    """What the room service reads (`Settings.rooms()`)."""

    default_max_participants: int
    max_participants_limit: int
    max_lifetime_seconds: int
    mesh_max_participants: int
    # The cleanup pass
    idle_timeout_seconds: int
    participant_data_retention_seconds: int
    ended_room_retention_seconds: int
    cleanup_interval_seconds: int


class IceSettings(msgspec.Struct, kw_only=True, frozen=True):
    """The ICE servers handed to browsers and probed, parsed once (`Settings.ice()`)."""

    stun_urls: tuple[str, ...]
    stun_port: int  # moot's own STUN server; 0: off
    turn_urls: tuple[str, ...]
    turn_secret: str
    credential_ttl_seconds: int
    fallback: tuple[FallbackServer, ...]
    probe_interval_seconds: int
    probe_timeout_seconds: float


class LiveKitSettings(msgspec.Struct, kw_only=True, frozen=True):
    """How to reach LiveKit (`Settings.livekit()`; None without MOOT_LIVEKIT_URL)."""

    url: str  # what browsers connect to
    server_url: str  # the server API, http(s)
    api_key: str
    api_secret: str
    token_ttl_seconds: int
    empty_timeout_seconds: int
    timeout_seconds: float


class TranscriptionSettings(msgspec.Struct, kw_only=True, frozen=True):
    """What transcription control and the worker read (`Settings.transcription()`)."""

    enabled: bool  # MOOT_TRANSCRIPTION_ENABLED; it also needs a Gladia key
    gladia_api_key: str
    gladia_base_url: str
    gladia_language: str
    gladia_timeout_seconds: float
    gladia_max_reconnects: int
    max_seconds_per_room: int
    chunk_max_bytes: int  # per channel
    max_chunks_per_second: int
    max_channels: int
    worker_public_url: str


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    # Network
    host: str = "127.0.0.1"
    port: Port = 8000
    web_dir: str = ""  # the web client's build; empty: the packaged one, else web/dist
    forwarded_allow_ips: str = "127.0.0.1"
    server: Literal["uvicorn", "granian"] = "uvicorn"  # the ASGI server (README, Performance)
    # A request must arrive whole (head and body) this long after its connection opened or its
    # first byte came; otherwise the connection is closed (stalled clients, slowloris).
    http_request_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=300)] = 5.0
    # Origins (comma-separated) whose pages may call the API from a browser: a web client
    # served from another host. Empty: only pages moot serves itself (same origin).
    cors_origins: str = ""

    # Stores. Empty URLs mean: start embedded PostgreSQL / Valkey in data_dir.
    database_url: str = ""
    redis_url: str = ""
    data_dir: str = ""
    db_pool_min: Annotated[int, msgspec.Meta(ge=1)] = 2
    db_pool_max: Annotated[int, msgspec.Meta(ge=1)] = 20

    # Signing key for identity credentials. Generated and kept in data_dir when embedded.
    secret_key: str = ""

    # Accounts (optional; anonymous use needs none). A session lasts this long after sign-in.
    session_ttl_seconds: Seconds = 30 * 24 * 3600
    password_min_length: Annotated[int, msgspec.Meta(ge=8, le=128)] = 10
    # argon2id cost: OWASP's recommended minimum (19 MiB, 2 passes, 1 lane). Raise them on a
    # faster machine; stored hashes made with other costs are upgraded at the next sign-in.
    password_hash_memory_kib: Annotated[int, msgspec.Meta(ge=8, le=4_194_304)] = 19_456
    password_hash_iterations: Annotated[int, msgspec.Meta(ge=1, le=100)] = 2
    # Password reset by email (off without an SMTP server): smtp://[user:pass@]host[:port]
    # (STARTTLS when the server offers it), smtp+starttls://… (STARTTLS required), smtps://…
    # (TLS from the first byte). Links in mail point at MOOT_PUBLIC_URL, never at whatever
    # Host header a request came with.
    smtp_url: str = ""
    smtp_from: str = ""  # the From address; empty: moot@<MOOT_PUBLIC_URL's host>
    smtp_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=120)] = 10.0
    public_url: str = ""  # how people reach this server, such as https://moot.example
    password_reset_ttl_seconds: Annotated[int, msgspec.Meta(ge=60, le=86_400)] = 30 * 60

    # Logs
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"

    # Rooms
    room_default_max_participants: Annotated[int, msgspec.Meta(ge=2)] = 10
    room_max_participants_limit: Annotated[int, msgspec.Meta(ge=2)] = 100
    room_idle_timeout_seconds: Seconds = 15 * 60
    room_max_lifetime_seconds: Seconds = 24 * 3600
    participant_data_retention_seconds: Seconds = 7 * 24 * 3600
    ended_room_retention_seconds: Seconds = 30 * 24 * 3600
    cleanup_interval_seconds: Seconds = 60
    cleanup_enabled: bool = True

    # Chat
    chat_ttl_seconds: Seconds = 6 * 3600
    chat_message_max_length: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 2000
    chat_history_default_limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 50
    chat_history_max_limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 100
    chat_events_kept: Annotated[int, msgspec.Meta(ge=10)] = 1000
    ws_max_frame_bytes: Annotated[int, msgspec.Meta(ge=256, le=1_048_576)] = 65_536
    ws_send_queue_size: Annotated[int, msgspec.Meta(ge=8)] = 512
    # A socket's unsent frames may also hold at most this many bytes (a slow reader is closed).
    ws_send_queue_bytes: Annotated[int, msgspec.Meta(ge=65_536)] = 1_048_576
    # Per room socket, in memory: typing frames that reach others, signalling frames relayed.
    ws_typing_per_second: Annotated[float, msgspec.Meta(gt=0, le=100)] = 1.0
    ws_signals_per_second: Annotated[float, msgspec.Meta(gt=0)] = 50.0
    ws_signal_burst: Annotated[int, msgspec.Meta(ge=1)] = 200
    # How often an instance asks PostgreSQL whether the account sessions its sockets were
    # opened with are still live (a revocation whose announcement was lost, an expiry).
    ws_session_check_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 60.0
    # How long an instance trusts the seats it read from PostgreSQL when checking what a room
    # socket sends (a removal whose event was lost stops the socket's sends within this).
    ws_seat_check_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 2.0
    ws_compression: bool = False
    # A WebSocket ticket (POST …/ws-ticket) opens one socket, within this many seconds.
    ws_ticket_ttl_seconds: Annotated[int, msgspec.Meta(ge=1, le=600)] = 30
    # A participant whose last room socket closed leaves after this long unless they are back
    # (a crashed tab frees its seat; a reload keeps it). 0 turns it off.
    presence_grace_seconds: Annotated[int, msgspec.Meta(ge=0)] = 30
    # The same wait for a participant whose last socket said its tab was closing (a page
    # unload): a reload is back well within it, a closed tab keeps nobody waiting for long.
    # At most presence_grace_seconds.
    presence_closed_tab_seconds: Annotated[int, msgspec.Meta(ge=1)] = 10

    # Channels in spaces: durable messages in PostgreSQL (accounts layer).
    channel_message_max_length: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 4000
    # Open `channel:` subscriptions are re-checked this often: a member removed from the space
    # (or from a private channel's list by a role change) loses the topic within this time.
    channel_access_check_seconds: Annotated[float, msgspec.Meta(gt=0, le=600)] = 5.0

    # Media. With livekit_url set, rooms use LiveKit; otherwise a P2P mesh signalled by moot.
    livekit_url: str = ""
    livekit_api_url: str = ""  # the server API; defaults to livekit_url with http(s)
    livekit_api_key: str = ""
    livekit_api_secret: str = ""
    livekit_token_ttl_seconds: Seconds = 10 * 60
    livekit_empty_timeout_seconds: Seconds = 5 * 60
    livekit_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 5.0
    mesh_max_participants: Annotated[int, msgspec.Meta(ge=2, le=1000)] = 6

    # ICE: STUN URLs (comma-separated), TURN URLs sharing coturn's `static-auth-secret`, and
    # fallback TURN servers (JSON list of iceServers entries, or comma-separated URLs).
    stun_servers: str = ""
    # moot's own STUN server (UDP, on MOOT_HOST), listed to browsers first; 0 turns it off.
    stun_port: Port = 3478
    turn_servers: str = ""
    turn_secret: str = ""
    # TURN credentials live for the room's remaining lifetime, at most this long: a meeting's
    # length, not a day (clients fetch fresh ones before `ttl_seconds` run out).
    turn_credential_ttl_seconds: Seconds = 4 * 3600
    turn_fallback_servers: str = ""
    turn_probe_interval_seconds: Annotated[int, msgspec.Meta(ge=0)] = 0
    turn_probe_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 3.0

    # Transcription (Gladia live v2). The worker runs inside `moot serve` unless
    # worker_embedded is false; `moot worker` runs it alone.
    transcription_enabled: bool = True
    gladia_api_key: str = ""
    gladia_base_url: str = "https://api.gladia.io"
    gladia_language: str = ""  # empty: Gladia detects the language
    gladia_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=120)] = 10.0
    gladia_max_reconnects: Annotated[int, msgspec.Meta(ge=0, le=20)] = 5
    transcription_token_ttl_seconds: Seconds = 300
    transcription_max_seconds_per_room: Seconds = 4 * 3600
    transcription_chunk_max_bytes: Annotated[int, msgspec.Meta(ge=2, le=1_048_576)] = 32_000
    transcription_max_chunks_per_second: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 50
    # Speakers one audio socket may carry as channels; Gladia bills every channel.
    transcription_max_channels: Annotated[int, msgspec.Meta(ge=1, le=64)] = 8
    transcript_flush_interval_ms: Annotated[int, msgspec.Meta(ge=10, le=60_000)] = 300
    transcript_batch_size: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 100
    worker_embedded: bool = True
    worker_public_url: str = ""  # ws(s)://… of the worker; empty: this server's /ws/transcribe
    worker_port: Port = 8001

    # Rate limits, in the `limits` notation ("10/minute", "5/second;100/hour").
    rate_limit_enabled: bool = True
    rate_limit_room_create: str = "20/minute"
    rate_limit_identity_create: str = "60/minute;600/hour"
    rate_limit_room_lookup: str = "120/minute"
    rate_limit_room_join: str = "120/minute"
    rate_limit_participant_requests: str = "600/minute"
    rate_limit_chat_message: str = "5/second;60/minute"
    rate_limit_channel_message: str = "5/second;120/minute"  # per account, all channels
    rate_limit_login_ip: str = "20/minute;200/hour"  # sign-in attempts per client IP
    rate_limit_login_email: str = "5/minute;30/hour"  # sign-in attempts per email address
    rate_limit_account_create: str = "10/hour"  # registrations per client IP
    # Password-reset requests per client IP, and reset mails per email address.
    rate_limit_password_reset_ip: str = "5/minute;30/hour"  # noqa: S105 (a limit)
    rate_limit_password_reset_email: str = "3/hour;10/day"  # noqa: S105 (a limit)

    def __post_init__(self) -> None:
        if self.room_default_max_participants > self.room_max_participants_limit:
            raise ConfigError(
                f"{ENV_PREFIX}ROOM_DEFAULT_MAX_PARTICIPANTS ({self.room_default_max_participants}) "
                f"exceeds {ENV_PREFIX}ROOM_MAX_PARTICIPANTS_LIMIT "
                f"({self.room_max_participants_limit})"
            )
        if self.db_pool_min > self.db_pool_max:
            raise ConfigError(f"{ENV_PREFIX}DB_POOL_MIN exceeds {ENV_PREFIX}DB_POOL_MAX")
        for name in (
            "rate_limit_room_create",
            "rate_limit_identity_create",
            "rate_limit_room_lookup",
            "rate_limit_room_join",
            "rate_limit_participant_requests",
            "rate_limit_chat_message",
            "rate_limit_channel_message",
            "rate_limit_login_ip",
            "rate_limit_login_email",
            "rate_limit_account_create",
            "rate_limit_password_reset_ip",
            "rate_limit_password_reset_email",
        ):
            value = getattr(self, name)
            try:
                if any(item.amount < 1 for item in parse_many(value)):
                    raise ValueError("a limit must allow at least one request")
            except ValueError:
                raise ConfigError(
                    f"{env_name(name)}={value!r} is not a rate limit such as '10/minute'"
                ) from None
        if self.livekit_url and not (self.livekit_api_key and self.livekit_api_secret):
            raise ConfigError(
                f"{ENV_PREFIX}LIVEKIT_URL is set, so {ENV_PREFIX}LIVEKIT_API_KEY and "
                f"{ENV_PREFIX}LIVEKIT_API_SECRET must be set too"
            )
        if self.turn_servers and not self.turn_secret:
            raise ConfigError(
                f"{ENV_PREFIX}TURN_SERVERS is set, so {ENV_PREFIX}TURN_SECRET (coturn's "
                "static-auth-secret) must be set too"
            )
        self.ice()  # the ICE server lists parse
        self.mail()  # so does the SMTP URL
        if self.secret_key and len(self.secret_key) < 32:
            raise ConfigError(f"{ENV_PREFIX}SECRET_KEY must be at least 32 characters long")

    def chat(self) -> ChatSettings:
        return ChatSettings(
            message_max_length=self.chat_message_max_length,
            history_default_limit=self.chat_history_default_limit,
            history_max_limit=self.chat_history_max_limit,
        )

    def messages(self) -> MessageSettings:
        return MessageSettings(message_max_length=self.channel_message_max_length)

    def channels(self) -> ChannelSettings:
        return ChannelSettings(
            access_check_seconds=self.channel_access_check_seconds,
            typing_per_second=self.ws_typing_per_second,
        )

    def realtime(self) -> RealtimeSettings:
        return RealtimeSettings(
            ttl_seconds=self.chat_ttl_seconds,
            events_kept=self.chat_events_kept,
            max_frame_bytes=self.ws_max_frame_bytes,
            send_queue_size=self.ws_send_queue_size,
        )

    def rooms(self) -> RoomSettings:
        return RoomSettings(
            default_max_participants=self.room_default_max_participants,
            max_participants_limit=self.room_max_participants_limit,
            max_lifetime_seconds=self.room_max_lifetime_seconds,
            mesh_max_participants=self.mesh_max_participants,
            idle_timeout_seconds=self.room_idle_timeout_seconds,
            participant_data_retention_seconds=self.participant_data_retention_seconds,
            ended_room_retention_seconds=self.ended_room_retention_seconds,
            cleanup_interval_seconds=self.cleanup_interval_seconds,
        )

    def ice(self) -> IceSettings:
        """The ICE server lists, parsed; ConfigError names the variable that does not parse."""
        from moot.media.ice import parse_fallback_servers, parse_urls

        parsed: dict[str, Any] = {}
        for field, variable, parse in (
            ("stun_urls", "stun_servers", parse_urls),
            ("turn_urls", "turn_servers", parse_urls),
            (
                "fallback",
                "turn_fallback_servers",
                lambda value: tuple(parse_fallback_servers(value, self.turn_secret)),
            ),
        ):
            try:
                parsed[field] = parse(getattr(self, variable))
            except ValueError as exc:
                raise ConfigError(f"{env_name(variable)} is invalid: {exc}") from None
        return IceSettings(
            **parsed,
            stun_port=self.stun_port,
            turn_secret=self.turn_secret,
            credential_ttl_seconds=self.turn_credential_ttl_seconds,
            probe_interval_seconds=self.turn_probe_interval_seconds,
            probe_timeout_seconds=self.turn_probe_timeout_seconds,
        )

    def mail(self) -> MailSettings | None:
        """The SMTP server and the public URL links point at; None without MOOT_SMTP_URL.
        ConfigError names the variable that does not parse."""
        if not self.smtp_url:
            return None
        smtp = env_name("smtp_url")
        parts = urlsplit(self.smtp_url)
        if parts.scheme not in _SMTP_SCHEMES:
            raise ConfigError(
                f"{smtp} must start with smtp://, smtp+starttls:// or smtps:// "
                f"(got {parts.scheme or 'no scheme'!r})"
            )
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(f"{smtp} has a port that is not a number from 0 to 65535") from None
        if not parts.hostname:
            raise ConfigError(f"{smtp} names no host")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ConfigError(f"{smtp} must be scheme://[user:password@]host[:port] and no more")
        public = urlsplit(self.public_url)
        if public.scheme not in ("http", "https") or not public.hostname:
            raise ConfigError(
                f"{smtp} is set, so {env_name('public_url')} must be this server's address as "
                f"people reach it, such as https://moot.example (got {self.public_url!r})"
            )
        sender = self.smtp_from or f"moot@{public.hostname}"
        if not re.fullmatch(r"(?:[^<>]*<)?[^@\s<>]+@[^@\s<>]+(?:>)?", sender.strip()):
            raise ConfigError(f"{env_name('smtp_from')}={sender!r} is not an email address")
        tls, default_port = _SMTP_SCHEMES[parts.scheme]
        return MailSettings(
            host=parts.hostname,
            port=port or default_port,
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            sender=sender.strip(),
            public_url=self.public_url.rstrip("/"),
            timeout_seconds=self.smtp_timeout_seconds,
        )

    def livekit(self) -> LiveKitSettings | None:
        if not self.livekit_url:
            return None
        return LiveKitSettings(
            url=self.livekit_url,
            server_url=self.livekit_server_url(),
            api_key=self.livekit_api_key,
            api_secret=self.livekit_api_secret,
            token_ttl_seconds=self.livekit_token_ttl_seconds,
            empty_timeout_seconds=self.livekit_empty_timeout_seconds,
            timeout_seconds=self.livekit_timeout_seconds,
        )

    def transcription(self) -> TranscriptionSettings:
        return TranscriptionSettings(
            enabled=self.transcription_enabled,
            gladia_api_key=self.gladia_api_key,
            gladia_base_url=self.gladia_base_url,
            gladia_language=self.gladia_language,
            gladia_timeout_seconds=self.gladia_timeout_seconds,
            gladia_max_reconnects=self.gladia_max_reconnects,
            max_seconds_per_room=self.transcription_max_seconds_per_room,
            chunk_max_bytes=self.transcription_chunk_max_bytes,
            max_chunks_per_second=self.transcription_max_chunks_per_second,
            max_channels=self.transcription_max_channels,
            worker_public_url=self.worker_public_url,
        )

    @property
    def embedded(self) -> bool:
        """True when moot itself runs PostgreSQL and/or Valkey."""
        return not self.database_url or not self.redis_url

    def livekit_server_url(self) -> str:
        """The LiveKit server API's base URL (http/https)."""
        url = self.livekit_api_url or self.livekit_url
        if url.startswith("ws"):
            url = "http" + url[2:]
        return url.rstrip("/")

    def data_path(self) -> Path:
        if self.data_dir:
            return Path(self.data_dir).expanduser().resolve()
        import platformdirs

        return Path(platformdirs.user_data_dir("moot", appauthor=False))


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def read_env_file(path: Path) -> dict[str, str]:
    """A dotenv file's KEY=VALUE pairs (python-dotenv's syntax: `#` comments, quotes,
    `export `), without variable expansion. A line that is not KEY=VALUE is refused with its
    file and line number, where python-dotenv alone would skip it with a warning."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    with path.open(encoding="utf-8") as stream:
        for binding in parse_stream(stream):
            if binding.error or (binding.key is not None and binding.value is None):
                raise ConfigError(
                    f"{path}:{binding.original.line}: expected KEY=VALUE, "
                    f"got {binding.original.string.rstrip()!r}"
                )
            if binding.key is not None and binding.value is not None:
                values[binding.key] = binding.value
    return values


def load_settings(
    environ: dict[str, str] | None = None,
    env_dir: Path | None = None,
    **overrides: Any,
) -> Settings:
    """Build Settings from .env, .env.local and the environment; raise ConfigError if invalid."""
    env_dir = env_dir if env_dir is not None else Path.cwd()
    merged: dict[str, str] = {}
    merged.update(read_env_file(env_dir / ".env"))
    merged.update(read_env_file(env_dir / ".env.local"))
    merged.update(os.environ if environ is None else environ)

    fields = {f.name: f for f in msgspec.structs.fields(Settings)}
    raw: dict[str, Any] = {}
    for name in fields:
        key = env_name(name)
        if key in merged:
            raw[name] = merged[key]
    raw.update({k: v for k, v in overrides.items() if v is not None})

    # Convert one field at a time so the error names the exact variable.
    for name, value in list(raw.items()):
        if name not in fields:
            raise ConfigError(f"unknown setting {name!r}")
        try:
            msgspec.convert({name: value}, Settings, strict=False)
        except msgspec.ValidationError as exc:
            detail = str(exc).split(" - at ")[0]
            raise ConfigError(f"{env_name(name)}={value!r} is invalid: {detail}") from None
        except ConfigError:
            pass  # cross-field checks run below with every value in place
    try:
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(str(exc)) from None

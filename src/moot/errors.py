"""Every error moot returns: a stable code, a human message, an HTTP status.

Services raise `MootError`; `app.py` turns it (and Litestar's own exceptions) into
`{"code": ..., "message": ..., **details}` with the status below.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import asyncpg
import msgspec
from limits.errors import StorageError
from redis import exceptions as redis_errors

ErrorCode = Literal[
    "invalid_request",
    "validation_failed",
    "invalid_frame",
    "frame_too_large",
    "invalid_cursor",
    "invalid_reset_token",
    "unknown_topic",
    "not_subscribed",
    "too_many_topics",
    "invalid_credential",
    "invalid_login",
    "not_signed_in",
    "session_expired",
    "invalid_webhook_signature",
    "cross_site_request",
    "wrong_password",
    "topic_forbidden",
    "not_space_member",
    "insufficient_role",
    "members_only",
    "not_a_participant",
    "not_host",
    "removed_from_room",
    "not_message_author",
    "not_transcription_host",
    "transcription_disabled",
    "not_found",
    "invite_not_found",
    "session_not_found",
    "room_not_found",
    "participant_not_found",
    "message_not_found",
    "channel_not_found",
    "livekit_not_configured",
    "method_not_allowed",
    "room_full",
    "not_a_text_channel",
    "already_host",
    "mesh_room_full",
    "media_not_connected",
    "transcription_active",
    "transcription_not_active",
    "transcription_limit_reached",
    "too_many_channels",
    "conflict",
    "email_taken",
    "last_space",
    "owner_must_transfer",
    "session_in_progress",
    "room_ended",
    "invite_expired",
    "invite_used_up",
    "room_locked",
    "weak_password",
    "rate_limited",
    "internal_error",
    "media_server_error",
    "service_unavailable",
    "media_unavailable",
    "transcription_not_configured",
    "email_unavailable",
]

# code -> (HTTP status, default message); every ErrorCode has one (checked at import).
ERRORS: dict[ErrorCode, tuple[int, str]] = {
    "invalid_request": (400, "The request is malformed."),
    "validation_failed": (422, "The request body did not pass validation."),
    # Socket frames only (an error event; the socket stays open).
    "invalid_frame": (400, "The frame is not one this socket understands."),
    "frame_too_large": (400, "The frame is too large."),
    "invalid_cursor": (400, "since is not a cursor."),
    "invalid_reset_token": (
        400,
        "This password-reset link is unknown, expired or already used; ask for a new one.",
    ),
    "unknown_topic": (404, "There is no such topic."),
    "not_subscribed": (409, "Subscribe to the topic first."),
    "too_many_topics": (429, "This socket has too many topics."),
    "invalid_credential": (401, "The X-Participant-ID credential is not valid."),
    "invalid_login": (401, "The email or the password is wrong."),
    "not_signed_in": (401, "Sign in first."),
    "session_expired": (401, "The session has expired or was signed out; sign in again."),
    "invalid_webhook_signature": (401, "The webhook's signature did not verify."),
    "cross_site_request": (
        403,
        "A request signed in by cookie must come from this site's own pages.",
    ),
    "wrong_password": (403, "The current password is wrong."),
    "topic_forbidden": (403, "You may not follow this topic."),
    "not_space_member": (403, "You are not a member of this space."),
    "insufficient_role": (403, "Your role in this space does not allow this."),
    "members_only": (403, "This space's meetings are for its members only; sign in as one."),
    "not_a_participant": (403, "You are not a participant of this room."),
    "not_host": (403, "Only the room's host can do this."),
    "removed_from_room": (403, "The host removed you from this room."),
    "not_message_author": (403, "That message is not yours."),
    "not_transcription_host": (403, "Only the room's transcription host can do this."),
    "transcription_disabled": (403, "Transcription is turned off on this server."),
    "not_found": (404, "Not found."),
    "invite_not_found": (404, "There is no such invite (or it was revoked)."),
    "session_not_found": (404, "There is no such meeting session in this space."),
    "room_not_found": (404, "There is no room with this id or code."),
    "participant_not_found": (404, "That participant is not in this room."),
    "message_not_found": (404, "There is no such message in this room's chat."),
    "channel_not_found": (404, "There is no such channel, or it is not shown to you."),
    "livekit_not_configured": (404, "This server has no LiveKit configured."),
    "method_not_allowed": (405, "This method is not allowed here."),
    "room_full": (409, "The room is full."),
    "not_a_text_channel": (409, "This is a voice channel; it has no messages."),
    "already_host": (409, "That participant is already the host."),
    "mesh_room_full": (
        409,
        "This meeting uses peer-to-peer video, which is limited in size; it is full.",
    ),
    "media_not_connected": (409, "That participant's media is not connected."),
    "transcription_active": (409, "Transcription is already running in this room."),
    "transcription_not_active": (409, "Transcription is not running in this room."),
    "transcription_limit_reached": (
        409,
        "This room has used up its transcription time.",
    ),
    # Worker socket frames only (an error event; the socket stays open).
    "too_many_channels": (409, "More channels than this server transcribes at once."),
    "conflict": (409, "Someone else changed this at the same time; try again."),
    "email_taken": (409, "An account with this email already exists."),
    "last_space": (409, "This is your last space; an account always keeps one."),
    "owner_must_transfer": (409, "The owner hands ownership to someone else before leaving."),
    "session_in_progress": (409, "This meeting is still going on; it can be deleted once it ends."),
    "room_ended": (410, "The meeting has ended."),
    "invite_expired": (410, "This invite has expired."),
    "invite_used_up": (410, "This invite has been used as many times as it allows."),
    "room_locked": (423, "The host has locked this room."),
    "weak_password": (422, "The password is too weak."),
    "rate_limited": (429, "Too many requests; slow down."),
    "internal_error": (500, "Something went wrong on our side."),
    "media_server_error": (502, "The media server refused the request."),
    "service_unavailable": (503, "A backing service is unavailable."),
    "media_unavailable": (503, "The media server cannot be reached; try again shortly."),
    "transcription_not_configured": (
        503,
        "Transcription needs a Gladia API key (MOOT_GLADIA_API_KEY); none is configured.",
    ),
    "email_unavailable": (
        503,
        "This server sends no email (no MOOT_SMTP_URL), so it cannot reset passwords by mail.",
    ),
}


assert set(ERRORS) == set(get_args(ErrorCode)), "ERRORS and ErrorCode must list the same codes"


class ErrorBody(msgspec.Struct):
    """The body of every error answer, as the API's schema describes it. Some codes add
    details next to these two: `field` or `errors` (validation), `retry_after` and `limit`
    (rate limits), `max_participants`, `mesh_max_participants`, `livekit_code`."""

    code: ErrorCode
    message: str


class MootError(Exception):
    """A failure the client should hear about, with a code from ERRORS."""

    def __init__(self, code: ErrorCode, message: str | None = None, **details: Any) -> None:
        self.code: ErrorCode = code
        self.status_code, default_message = ERRORS[code]
        self.message = message or default_message
        self.details = details
        self.headers: dict[str, str] = {}
        super().__init__(f"{code}: {self.message}")

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


# A store that cannot be reached, or that lost the connection mid-request, is an outage:
# 503 `service_unavailable` over HTTP, an error event or a close code on a socket, never a
# bug. Whole families, so that whatever subclass the drivers raise next is covered too.
_STORE_OUTAGES: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, broken pipe, a socket file gone; TimeoutError is one too
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08: ConnectionDoesNotExistError and kin
    asyncpg.exceptions.OperatorInterventionError,  # class 57: shutting down, starting up
    asyncpg.exceptions.InsufficientResourcesError,  # class 53: too many connections, disk full
    asyncpg.InterfaceError,  # the client's side: connection closed, pool closing
    # A query on a pooled connection the server terminated while it sat idle: the driver
    # finds the connection in a state it cannot leave ("cannot switch to state …").
    asyncpg.exceptions.InternalClientError,
    redis_errors.ConnectionError,  # also BusyLoadingError: a restarted Valkey loading its AOF
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,  # a failover left us on a replica
    redis_errors.OutOfMemoryError,
    redis_errors.TryAgainError,
    redis_errors.ClusterDownError,
    StorageError,  # `limits` wraps the rate-limit store's errors in it
)


def is_store_outage(exc: BaseException) -> bool:
    """Whether `exc` means PostgreSQL or Redis is unavailable, not that moot has a bug."""
    if isinstance(exc, _STORE_OUTAGES):
        return True
    if isinstance(exc, redis_errors.ResponseError):
        # Valkey refuses writes it cannot persist (AOF write failed, disk full) with MISCONF,
        # which redis-py raises without a class of its own.
        return str(exc).startswith("MISCONF")
    if isinstance(exc, BaseExceptionGroup):  # dependencies resolved in a task group
        return all(is_store_outage(inner) for inner in exc.exceptions)
    return False

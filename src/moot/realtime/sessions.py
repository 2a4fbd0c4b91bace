"""Sockets opened with an account session, closed as soon as that session ends.

Ending a session (signing out, revoking it, a password change or reset, deleting the account)
is announced on one Redis channel that every instance listens to; each instance closes its own
sockets of those sessions with 4440 `session_revoked`, after an `error` event
(`session_expired`). An announcement lost while an instance's pub/sub connection was down, and
a session that simply ran out, are caught by a check: every `ws_session_check_seconds` and
whenever the pub/sub connection comes back, one query asks which of the sessions behind the
instance's open sockets are still live.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Collection, Iterable
from typing import Protocol

import structlog
from redis.asyncio import Redis

from moot.errors import is_store_outage
from moot.realtime import envelope
from moot.realtime.close_codes import CloseCode
from moot.realtime.hub import Connection

log = structlog.get_logger(__name__)

REVOKED_CHANNEL = "moot:sessions:revoked"  # payload: session ids, space-separated
_ENDED = envelope.error(
    "session_expired", "The session this socket was opened with was signed out or expired."
)


class LiveSessions(Protocol):
    """Who decides whether a session still signs anyone in (the accounts domain)."""

    async def live_sessions(self, session_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Of these sessions, the ones that are live now."""


async def announce_revoked(redis: Redis, session_ids: Iterable[uuid.UUID]) -> None:
    """Tell every instance to close the sockets of these sessions."""
    payload = " ".join(str(session_id) for session_id in session_ids)
    if payload:
        await redis.publish(REVOKED_CHANNEL, payload)


class SessionSockets:
    """This instance's sockets by the session they were opened with."""

    def __init__(self, live: LiveSessions, check_seconds: float) -> None:
        self._live = live
        self._check_seconds = check_seconds
        self._sockets: dict[uuid.UUID, set[Connection]] = {}
        self._checker: asyncio.Task[None] | None = None

    def add(self, session_id: uuid.UUID, connection: Connection) -> None:
        self._sockets.setdefault(session_id, set()).add(connection)

    def discard(self, session_id: uuid.UUID, connection: Connection) -> None:
        held = self._sockets.get(session_id)
        if held is not None:
            held.discard(connection)
            if not held:
                del self._sockets[session_id]

    def end(self, session_id: uuid.UUID) -> None:
        """Close every local socket of the session: the error event, then 4440."""
        for connection in self._sockets.pop(session_id, set()):
            connection.push(_ENDED, (CloseCode.SESSION_REVOKED, "session_revoked"), force=True)

    # -- the hub's broadcast hooks (realtime/hub.py) -------------------------------------

    def received(self, payload: bytes) -> None:
        """An announcement on REVOKED_CHANNEL."""
        for word in payload.split():
            with contextlib.suppress(ValueError):
                self.end(uuid.UUID(word.decode()))

    async def reconnected(self) -> None:
        """Announcements made while the pub/sub connection was down never arrive: ask."""
        await self.check()

    # -- the check ---------------------------------------------------------------------

    async def check(self) -> None:
        """End the local sockets whose session is no longer live (one query for all)."""
        held = list(self._sockets)
        if not held:
            return
        live = await self._live.live_sessions(held)
        for session_id in held:
            if session_id not in live:
                self.end(session_id)

    def start(self) -> None:
        self._checker = asyncio.create_task(self._check_forever(), name="moot-session-check")

    async def stop(self) -> None:
        if self._checker is not None:
            self._checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checker

    async def _check_forever(self) -> None:
        while True:
            await asyncio.sleep(self._check_seconds)
            try:
                await self.check()
            except Exception as exc:
                # PostgreSQL is away: the sockets stay until a check gets an answer.
                if not is_store_outage(exc):
                    log.exception("session_check_failed")
                else:
                    log.warning("session_check_failed", error=type(exc).__name__)

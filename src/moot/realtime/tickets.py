"""WebSocket tickets: a one-time, short-lived stand-in for the credential in a socket's URL.

Browsers cannot set headers on a WebSocket, so whatever authenticates one goes in its query
string, where proxies, browser history and server logs may keep it. A ticket kept there is
worth little: it opens one socket (it is taken from Redis with GETDEL, so a second use
finds nothing), for one purpose (the gateway or one room's socket), within seconds.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

import msgspec
from redis.asyncio import Redis

from moot.errors import MootError
from moot.realtime.topics import topic

GATEWAY = "gateway"  # the purpose of a ticket for `/ws`; a room socket's is its topic


class SocketTicket(msgspec.Struct):
    ticket: str  # pass as `?ticket=` when opening the socket
    expires_in: int  # seconds left to open it; it opens one socket only


@dataclass(frozen=True)
class SocketCaller:
    """Who opens a socket: a participant and, when signed in, the account session it came
    with (the socket closes when that session ends)."""

    participant_id: uuid.UUID
    session_id: uuid.UUID | None = None


def _key(ticket: str) -> str:
    return f"ws_ticket:{ticket}"


class SocketTickets:
    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds

    @staticmethod
    def purpose(room_id: uuid.UUID | None) -> str:
        """What a ticket opens: one room's socket, or (no room) the gateway."""
        return GATEWAY if room_id is None else topic("room", room_id)

    async def issue(self, caller: SocketCaller, purpose: str) -> SocketTicket:
        ticket = secrets.token_urlsafe(32)
        session = caller.session_id or "-"
        value = f"{caller.participant_id} {purpose} {session}"
        await self._redis.set(_key(ticket), value, ex=self._ttl)
        return SocketTicket(ticket=ticket, expires_in=self._ttl)

    async def redeem(self, ticket: str, purpose: str) -> SocketCaller:
        """Whom the ticket was issued to; the ticket is spent either way. 401
        `invalid_credential` if it is unknown, expired, used, or meant for another socket."""
        looks_right = 0 < len(ticket) <= 64  # token_urlsafe(32) is 43 characters
        stored = await self._redis.getdel(_key(ticket)) if looks_right else None
        if isinstance(stored, bytes):
            participant_id, meant_for, session = [*stored.decode().split(" "), "-"][:3]
            if meant_for == purpose:
                return SocketCaller(
                    uuid.UUID(participant_id), None if session == "-" else uuid.UUID(session)
                )
        raise MootError(
            "invalid_credential",
            "The ticket is unknown, expired, already used or meant for another socket.",
        )

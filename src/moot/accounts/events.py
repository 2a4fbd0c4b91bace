"""What an account's changes announce after they commit: events on the account's own topic
(`user:{account_id}`, for its other devices) and the end of revoked sessions' sockets on
every instance.

A change in PostgreSQL stands even if Redis fails to carry its event, so a failure to
publish is logged, not raised; sockets of a revoked session are then closed by the periodic
session check (realtime/sessions.py) instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Sequence

import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from moot.accounts.schemas import AccountUpdated, AccountView, RevokedBecause, SessionRevoked
from moot.realtime.log import TopicLog
from moot.realtime.sessions import announce_revoked
from moot.realtime.topics import topic

log = structlog.get_logger(__name__)
_encode = msgspec.json.Encoder().encode


class AccountEvents:
    def __init__(self, log: TopicLog, redis: Redis) -> None:
        self._log = log
        self._redis = redis

    async def sessions_revoked(
        self,
        account_id: uuid.UUID,
        session_ids: Sequence[uuid.UUID],
        reason: RevokedBecause | None,
    ) -> None:
        """Close the sessions' sockets everywhere; with a `reason`, also tell the account's
        topic (an account being deleted has no one left to tell)."""
        if not session_ids:
            return
        if reason is not None:
            event = SessionRevoked(session_ids=list(session_ids), reason=reason)
            await _announce(self._log.publish(topic("user", account_id), _encode(event)))
        await _announce(announce_revoked(self._redis, session_ids))

    async def updated(self, account: AccountView) -> None:
        event = _encode(AccountUpdated(account=account))
        await _announce(self._log.publish(topic("user", account.id), event))


async def _announce(publishing: Awaitable[object]) -> None:
    try:
        await publishing
    except (RedisError, OSError) as exc:
        log.warning("account_event_not_published", error=type(exc).__name__)

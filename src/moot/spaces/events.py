"""Space events: what a space's members hear on `space:{id}` after a change commits, and what
an account's other devices hear on `user:{id}` when it joins or leaves a space.

A change in PostgreSQL stands even if Redis fails to carry its event, so a failure to publish
is logged, not raised: the request that made the change still succeeds.
"""

from __future__ import annotations

import uuid

import msgspec
import structlog
from redis.exceptions import RedisError

from moot.realtime.log import TopicLog
from moot.realtime.topics import topic

log = structlog.get_logger(__name__)
_encode = msgspec.json.Encoder().encode


class SpaceEvents:
    def __init__(self, log: TopicLog) -> None:
        self._log = log

    async def space(self, space_id: uuid.UUID, *events: msgspec.Struct) -> None:
        """To everyone subscribed to the space (its members)."""
        for event in events:
            await self._publish(topic("space", space_id), event)

    async def user(self, account_id: uuid.UUID, event: msgspec.Struct) -> None:
        """To the account's own devices."""
        await self._publish(topic("user", account_id), event)

    async def _publish(self, name: str, event: msgspec.Struct) -> None:
        try:
            await self._log.publish(name, _encode(event))
        except (RedisError, OSError) as exc:
            log.warning("space_event_not_published", error=type(exc).__name__)

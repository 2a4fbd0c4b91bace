"""The space topic (`space:{id}`): the gateway's kind for a space's live events, for its
members only.

A member removed from the space (or leaving it) hears that event, then their subscription
ends: the event reaches every instance through the topic's channel, so it ends there too, as
a room removal does. Everyone's ends when the space is deleted. Should such an event be lost
(Redis away as it was published), the hub's re-check after its pub/sub reconnect asks this
kind about every subscription, in one query.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from moot.errors import MootError
from moot.realtime.close_codes import CloseCode
from moot.realtime.envelope import EventHead
from moot.realtime.gateway import Grant, Reply
from moot.realtime.topics import topic
from moot.spaces.service import SpaceService

_REMOVED = (CloseCode.FORBIDDEN, "removed from the space")
_LEFT = (CloseCode.NORMAL, "left the space")
_DELETED = (CloseCode.NOT_FOUND, "the space was deleted")


def ending(head: EventHead, subscriber: uuid.UUID) -> tuple[CloseCode, str] | None:
    """Whether this event ends this subscriber's subscription, and with what code."""
    if head.type == "space.deleted":
        return _DELETED
    if head.participant_id == subscriber:
        if head.type == "member.removed":
            return _REMOVED
        if head.type == "member.left":
            return _LEFT
    return None


class SpaceTopic:
    """The gateway's `space` topic kind. Its events only go out: it takes no client frames."""

    def __init__(self, spaces: SpaceService) -> None:
        self._spaces = spaces

    async def grant(self, caller: uuid.UUID, topic_id: str) -> Grant:
        try:
            space_id = uuid.UUID(topic_id)
        except ValueError:
            raise MootError("not_space_member") from None
        role = await self._spaces.role(space_id, caller)
        return Grant(
            topic=topic("space", space_id),
            ending=ending,
            ready={"role": role},
            context=(space_id, caller),
        )

    async def handle(self, grant: Grant, frame: str, reply: Reply) -> None:
        raise MootError("invalid_frame", "The space topic takes no frames; it only sends events.")

    async def released(self, grant: Grant) -> None:
        return None

    def observed(self, topic: str, head: EventHead) -> None:
        return None

    async def revoked(self, grants: Sequence[Grant]) -> list[tuple[CloseCode, str] | None]:
        """The grants whose holder is no longer a member (one query for all)."""
        pairs: list[tuple[uuid.UUID, uuid.UUID]] = [grant.context for grant in grants]
        still = await self._spaces.still_members(pairs)
        return [None if i in still else _REMOVED for i in range(len(pairs))]

"""The channel topic (`channel:{id}`): who may subscribe (members who see the channel), which
events end a subscription, and typing, the one frame a client sends on it.

A subscription ends when the channel is deleted (`channel.deleted`, 4410), and when its
subscriber no longer sees it: a private channel's list changed (the channel service sends an
addressed `channel.access_revoked`, 4403, at once), or they left or were removed from the
space. Space membership belongs to the spaces domain, which announces nothing, so every
instance re-checks its open channel subscriptions every `access_check_seconds` (one query per
subscribed account) and revokes what no longer holds; typing re-checks as it goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence

import msgspec
import structlog

from moot.channels.schemas import ClientTyping
from moot.channels.service import ChannelService, channel_topic
from moot.errors import MootError, is_store_outage
from moot.infra.untrusted import guarded
from moot.realtime.close_codes import CloseCode
from moot.realtime.envelope import EventHead
from moot.realtime.gateway import Grant, Reply, SubscriptionEnded
from moot.realtime.throttle import TokenBucket
from moot.settings import ChannelSettings

log = structlog.get_logger(__name__)

_decode_frame = guarded(msgspec.json.Decoder(ClientTyping).decode)
DELETED = (CloseCode.ROOM_ENDED, "the channel was deleted")
REVOKED = (CloseCode.FORBIDDEN, "you no longer see this channel")


def ending(head: EventHead, subscriber: uuid.UUID) -> tuple[CloseCode, str] | None:
    if head.type == "channel.deleted":
        return DELETED
    if head.type == "channel.access_revoked" and head.to == subscriber:
        return REVOKED
    return None


class _Held:
    """A socket's hold on a channel topic (compared by identity: the open set holds them)."""

    __slots__ = ("account_id", "channel_id", "typing")

    def __init__(self, account_id: uuid.UUID, channel_id: uuid.UUID, rate: float) -> None:
        self.account_id = account_id
        self.channel_id = channel_id
        self.typing = TokenBucket(rate, 1)


class ChannelTopic:
    """The gateway's `channel` topic kind."""

    def __init__(self, channels: ChannelService, settings: ChannelSettings) -> None:
        self._channels = channels
        self._settings = settings
        self._open: set[_Held] = set()
        self._checker: asyncio.Task[None] | None = None

    async def grant(self, caller: uuid.UUID, topic_id: str) -> Grant:
        try:
            channel_id = uuid.UUID(topic_id)
        except ValueError:
            raise MootError("channel_not_found") from None
        channel = await self._channels.visible(caller, channel_id)
        held = _Held(caller, channel_id, self._settings.typing_per_second)
        self._open.add(held)
        return Grant(
            topic=channel_topic(channel_id),
            ending=ending,
            ready={"channel": channel},
            context=held,
        )

    async def handle(self, grant: Grant, frame: str, reply: Reply) -> None:
        held: _Held = grant.context
        try:
            _decode_frame(frame)
        except msgspec.DecodeError as exc:
            raise MootError(
                "invalid_frame", f"{exc}; a channel takes typing frames, messages go over REST"
            ) from None
        if not held.typing.take():
            return  # extras are dropped silently: typing is a hint
        [still] = await self._channels.still_visible([(held.account_id, held.channel_id)])
        if still is None:
            raise SubscriptionEnded(*DELETED)
        if not still:
            raise SubscriptionEnded(*REVOKED)
        await self._channels.typing(held.account_id, held.channel_id)

    async def released(self, grant: Grant) -> None:
        self._open.discard(grant.context)

    def observed(self, topic: str, head: EventHead) -> None:
        """Nothing is cached per channel: access is read when it is checked."""

    async def revoked(self, grants: Sequence[Grant]) -> list[tuple[CloseCode, str] | None]:
        held: list[_Held] = [grant.context for grant in grants]
        answers = await self._channels.still_visible([(h.account_id, h.channel_id) for h in held])
        return [None if ok else (DELETED if ok is None else REVOKED) for ok in answers]

    # -- the periodic check --------------------------------------------------------------

    def start(self) -> None:
        self._checker = asyncio.create_task(self._check_forever(), name="moot-channel-access")

    async def stop(self) -> None:
        if self._checker is not None:
            self._checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checker

    async def check_now(self) -> None:
        """Revoke, on every instance, the open subscriptions here whose subscriber no longer
        sees the channel (left or removed from the space, a role changed)."""
        held = list(self._open)
        if not held:
            return
        answers = await self._channels.still_visible([(h.account_id, h.channel_id) for h in held])
        lost: dict[uuid.UUID, set[uuid.UUID]] = {}
        for h, ok in zip(held, answers, strict=True):
            if not ok:  # lost it, or the channel is gone and its event was lost
                lost.setdefault(h.channel_id, set()).add(h.account_id)
        for channel_id, accounts in lost.items():
            await self._channels.revoke(channel_id, accounts)

    async def _check_forever(self) -> None:
        while True:
            await asyncio.sleep(self._settings.access_check_seconds)
            try:
                await self.check_now()
            except Exception as exc:
                if not is_store_outage(exc):
                    log.exception("channel_access_check_failed")

"""The room topic (`room:{id}`): who may subscribe (a seat), which events end a subscription,
what a client may send on it (chat, typing, signalling), and presence while subscribed.

A socket is admitted by its seat at connect, and its sends are checked against the seat again:
the room's seated participants, cached per instance until an event says they changed or for
`seat_check_seconds` at most, so a removal whose event was lost stops a socket's sends within
that time; the hub's re-check after a reconnect ends its subscription (`revoked`). Typing and
signalling are throttled per socket in memory; a signal's addressee is looked up in the same
cache, not in PostgreSQL each time.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import msgspec
from redis.exceptions import RedisError

from moot.chat.schemas import ClientSend, ClientTyping
from moot.chat.service import ChatService
from moot.errors import MootError, is_store_outage
from moot.infra.untrusted import guarded
from moot.realtime.close_codes import CloseCode
from moot.realtime.envelope import EventHead
from moot.realtime.gateway import Grant, Reply, SubscriptionEnded
from moot.realtime.log import TopicLog
from moot.realtime.signalling import ClientAnswer, ClientIce, ClientOffer, relay
from moot.realtime.throttle import TokenBucket
from moot.realtime.topics import topic
from moot.rooms.members import LeftReason, as_author
from moot.rooms.presence import Presence
from moot.rooms.schemas import (
    ClientAway,
    ParticipantReconnected,
    ParticipantReconnecting,
    ParticipantView,
)
from moot.rooms.service import RoomService

RoomFrame = ClientTyping | ClientSend | ClientOffer | ClientAnswer | ClientIce | ClientAway
_decode_frame = guarded(msgspec.json.Decoder(RoomFrame).decode)


class _SendHead(msgspec.Struct):
    """Just enough of a frame that failed to decode to name the message it was."""

    type: Any = None
    client_id: Any = None


_decode_head = guarded(msgspec.json.Decoder(_SendHead).decode)
_encode = msgspec.json.Encoder().encode
_ROOMS_CACHED = 10_000  # rooms whose seated participants one instance remembers
_SEATS_CHANGED = frozenset(("participant.joined", "participant.left", "room.ended"))

_ENDINGS: dict[LeftReason, tuple[CloseCode, str]] = {
    "room_ended": (CloseCode.ROOM_ENDED, "the meeting has ended"),
    "removed": (CloseCode.FORBIDDEN, "removed by the host"),
    "left": (CloseCode.NORMAL, "left the room"),
}


def ending(head: EventHead, participant_id: uuid.UUID) -> tuple[CloseCode, str] | None:
    """Whether this event ends this participant's subscription, and with what code."""
    if head.type == "room.ended":
        return _ENDINGS["room_ended"]
    if head.type == "participant.left" and head.participant_id == participant_id:
        return _ENDINGS["removed" if head.reason == "removed" else "left"]
    return None


@contextmanager
def _naming(client_id: str | None) -> Iterator[None]:
    """The error a `message.send` frame ends in carries the frame's `client_id`, so the
    sender knows which of its messages did not go out (and can offer to send it again)."""
    try:
        yield
    except MootError as exc:
        if client_id is not None:
            exc.details["client_id"] = client_id
        raise
    except Exception as exc:
        if client_id is None or not is_store_outage(exc):
            raise
        raise MootError("service_unavailable", client_id=client_id) from exc


def _client_id_of(frame: str) -> dict[str, str]:
    """The `client_id` of a `message.send` frame that failed to decode, if it has a usable one."""
    try:
        head = _decode_head(frame)
    except msgspec.DecodeError:
        return {}
    client_id = head.client_id
    if head.type != "message.send" or not isinstance(client_id, str) or len(client_id) > 64:
        return {}
    return {"client_id": client_id}


@dataclass(frozen=True)
class SocketLimits:
    """What one room socket may send, and how long a seen seat is trusted (settings)."""

    typing_per_second: float
    signals_per_second: float
    signal_burst: int
    seat_check_seconds: float


class _Held:
    """A socket's hold on the room topic: its seat, and its throttles."""

    __slots__ = ("closing_tab", "room_id", "seat", "signal_refused", "signals", "typing")

    def __init__(self, room_id: uuid.UUID, seat: ParticipantView, limits: SocketLimits) -> None:
        self.room_id = room_id
        self.seat = seat
        self.typing = TokenBucket(limits.typing_per_second, 1)
        self.signals = TokenBucket(limits.signals_per_second, limits.signal_burst)
        self.signal_refused = False  # told once per run of refused signals, then silent
        self.closing_tab = False  # the client said its tab is going away


class RoomTopic:
    """The gateway's `room` topic kind."""

    def __init__(
        self,
        rooms: RoomService,
        chat: ChatService,
        log: TopicLog,
        presence: Presence,
        limits: SocketLimits,
    ) -> None:
        self._rooms = rooms
        self._chat = chat
        self._log = log
        self._presence = presence
        self._limits = limits
        self._seated: dict[uuid.UUID, tuple[float, frozenset[uuid.UUID]]] = {}

    async def grant(self, caller: uuid.UUID, topic_id: str) -> Grant:
        room_id = await self._rooms.resolve(topic_id)
        seat = await self._rooms.require_participant(room_id, caller)
        grant = Grant(
            topic=topic("room", room_id),
            ending=ending,
            ready={"you": seat},
            context=_Held(room_id, seat, self._limits),
        )
        if await self._presence.arrived(room_id, caller):
            await self._announce(room_id, ParticipantReconnected(participant_id=caller))
        return grant

    async def handle(self, grant: Grant, frame: str, reply: Reply) -> None:
        held: _Held = grant.context
        try:
            decoded = _decode_frame(frame)
        except msgspec.DecodeError as exc:
            raise MootError("invalid_frame", str(exc), **_client_id_of(frame)) from None
        if isinstance(decoded, ClientTyping):
            if held.typing.take():  # extras are dropped silently: typing is a hint
                await self._require_seat(grant)
                await self._chat.typing(held.room_id, as_author(held.seat))
        elif isinstance(decoded, ClientAway):
            held.closing_tab = True
        elif isinstance(decoded, ClientSend):
            with _naming(decoded.client_id):
                await self._require_seat(grant)
                message = await self._chat.send_as(
                    held.room_id, as_author(held.seat), decoded.content, decoded.client_id
                )
            if decoded.client_id is not None:
                reply("message.sent", {"client_id": decoded.client_id, "id": message.id})
        elif self._signal_allowed(held):
            await self._require_seat(grant)
            await self._signal(held, decoded)

    async def released(self, grant: Grant) -> None:
        held: _Held = grant.context
        participant_id = held.seat.participant_id
        if await self._presence.departed(
            held.room_id, participant_id, closing_tab=held.closing_tab
        ):
            dropped = ParticipantReconnecting(participant_id=participant_id)
            await self._announce(held.room_id, dropped)

    async def _announce(
        self, room_id: uuid.UUID, event: ParticipantReconnecting | ParticipantReconnected
    ) -> None:
        """Tell the room someone's connection dropped or came back (ephemeral: a client that
        missed it learns who is here from the participant list when it reconnects)."""
        with contextlib.suppress(RedisError, OSError):  # a hint: never worth failing for
            await self._log.publish_ephemeral(topic("room", room_id), _encode(event))

    def observed(self, topic: str, head: EventHead) -> None:
        """Someone joined or left, or the meeting ended: the room's cached seats are stale."""
        if head.type in _SEATS_CHANGED:
            self._seated.pop(uuid.UUID(topic.partition(":")[2]), None)

    async def revoked(self, grants: Sequence[Grant]) -> list[tuple[CloseCode, str] | None]:
        """The grants whose seat is gone (one query for all): how each subscription ends."""
        held: list[_Held] = [grant.context for grant in grants]
        gone = await self._rooms.departures([(h.room_id, h.seat.participant_id) for h in held])
        for room_id in {room_id for room_id, _ in gone}:
            self._seated.pop(room_id, None)
        endings: list[tuple[CloseCode, str] | None] = []
        for h in held:
            reason = gone.get((h.room_id, h.seat.participant_id))
            endings.append(None if reason is None else _ENDINGS[reason])
        return endings

    # -- checks --------------------------------------------------------------------------

    async def _require_seat(self, grant: Grant) -> None:
        """The sender still holds their seat, or their subscription ends as the lost event
        (a removal, the end of the meeting) would have ended it."""
        held: _Held = grant.context
        if held.seat.participant_id in await self._seated_now(held.room_id):
            return
        (ended,) = await self.revoked([grant])
        if ended is not None:
            raise SubscriptionEnded(*ended)
        self._seated.pop(held.room_id, None)  # seated after all: the cached seats were stale

    async def _seated_now(self, room_id: uuid.UUID, *, fresh: bool = False) -> frozenset[uuid.UUID]:
        """Who holds a seat in the room, as PostgreSQL said at most `seat_check_seconds` ago
        (`fresh`: ask it now)."""
        now = time.monotonic()
        cached = self._seated.get(room_id)
        if cached is not None and not fresh and now - cached[0] < self._limits.seat_check_seconds:
            return cached[1]
        seated = await self._rooms.present(room_id)
        self._seated.pop(room_id, None)
        if len(self._seated) >= _ROOMS_CACHED:
            self._seated.pop(next(iter(self._seated)))  # the longest cached
        self._seated[room_id] = (now, seated)
        return seated

    def _signal_allowed(self, held: _Held) -> bool:
        """Within the socket's signalling budget; over it, one error event, then silence
        until the budget allows a signal again."""
        if held.signals.take():
            held.signal_refused = False
            return True
        if held.signal_refused:
            return False
        held.signal_refused = True
        raise MootError(
            "rate_limited",
            "Too many signalling frames; the extra ones were dropped.",
            limit="signal",
            retry_after=1,
        )

    async def _signal(self, held: _Held, frame: ClientOffer | ClientAnswer | ClientIce) -> None:
        if self._rooms.media_mode != "mesh":
            raise MootError(
                "invalid_request", "This server uses LiveKit; peer-to-peer signalling is off."
            )
        sender = held.seat.participant_id
        if frame.to == sender:
            raise MootError("invalid_request", "A signal cannot be addressed to yourself.")
        # Someone who joined a moment ago may not be in the cached seats yet: a miss asks again.
        if frame.to not in await self._seated_now(held.room_id) and frame.to not in (
            await self._seated_now(held.room_id, fresh=True)
        ):
            raise MootError(
                "participant_not_found",
                "The addressed participant is not in this room; the signal was dropped.",
                to=str(frame.to),
            )
        await relay(self._log, topic("room", held.room_id), sender, frame)

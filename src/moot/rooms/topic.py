"""The room topic (`room:{id}`): who may subscribe (a seat), which events end a subscription,
what a client may send on it (chat, typing, signalling), and presence while subscribed."""

from __future__ import annotations

import uuid

import msgspec

from moot.chat.schemas import ClientSend, ClientTyping
from moot.chat.service import ChatService
from moot.errors import MootError
from moot.infra.untrusted import guarded
from moot.realtime.close_codes import CloseCode
from moot.realtime.envelope import EventHead
from moot.realtime.gateway import Grant, Reply
from moot.realtime.log import TopicLog
from moot.realtime.signalling import ClientAnswer, ClientIce, ClientOffer, relay
from moot.realtime.topics import topic
from moot.rooms.members import as_author
from moot.rooms.presence import Presence
from moot.rooms.schemas import ParticipantView
from moot.rooms.service import RoomService

RoomFrame = ClientTyping | ClientSend | ClientOffer | ClientAnswer | ClientIce
_decode_frame = guarded(msgspec.json.Decoder(RoomFrame).decode)


def ending(head: EventHead, participant_id: uuid.UUID) -> tuple[CloseCode, str] | None:
    """Whether this event ends this participant's subscription, and with what code."""
    if head.type == "room.ended":
        return CloseCode.ROOM_ENDED, "the meeting has ended"
    if head.type == "participant.left" and head.participant_id == participant_id:
        if head.reason == "removed":
            return CloseCode.FORBIDDEN, "removed by the host"
        return CloseCode.NORMAL, "left the room"
    return None


class RoomTopic:
    """The gateway's `room` topic kind."""

    def __init__(
        self, rooms: RoomService, chat: ChatService, log: TopicLog, presence: Presence
    ) -> None:
        self._rooms = rooms
        self._chat = chat
        self._log = log
        self._presence = presence

    async def grant(self, caller: uuid.UUID, topic_id: str) -> Grant:
        room_id = await self._rooms.resolve(topic_id)
        seat = await self._rooms.require_participant(room_id, caller)
        grant = Grant(
            topic=topic("room", room_id), ending=ending, ready={"you": seat}, context=seat
        )
        await self._presence.arrived(room_id, caller)
        return grant

    async def handle(self, grant: Grant, frame: str, reply: Reply) -> None:
        seat: ParticipantView = grant.context
        room_id = uuid.UUID(grant.topic.partition(":")[2])
        try:
            decoded = _decode_frame(frame)
        except msgspec.DecodeError as exc:
            raise MootError("invalid_frame", str(exc)) from None
        if isinstance(decoded, ClientTyping):
            await self._chat.typing(room_id, as_author(seat))
        elif isinstance(decoded, ClientSend):
            message = await self._chat.send_as(room_id, as_author(seat), decoded.content)
            if decoded.client_id is not None:
                reply("message.sent", {"client_id": decoded.client_id, "id": message.id})
        else:
            await self._signal(room_id, seat.participant_id, decoded)

    async def _signal(
        self, room_id: uuid.UUID, sender: uuid.UUID, frame: ClientOffer | ClientAnswer | ClientIce
    ) -> None:
        if self._rooms.media_mode != "mesh":
            raise MootError(
                "invalid_request", "This server uses LiveKit; peer-to-peer signalling is off."
            )
        if frame.to == sender:
            raise MootError("invalid_request", "A signal cannot be addressed to yourself.")
        if not await self._rooms.is_present(room_id, frame.to):
            raise MootError(
                "participant_not_found",
                "The addressed participant is not in this room; the signal was dropped.",
                to=str(frame.to),
            )
        await relay(self._log, topic("room", room_id), sender, frame)

    async def released(self, grant: Grant) -> None:
        seat: ParticipantView = grant.context
        room_id = uuid.UUID(grant.topic.partition(":")[2])
        await self._presence.departed(room_id, seat.participant_id)

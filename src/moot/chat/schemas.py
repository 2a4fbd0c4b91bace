"""Chat messages and the room event protocol spoken on /ws/chat/{room}."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from moot.rooms.schemas import ParticipantView

MessageId = Annotated[str, msgspec.Meta(pattern=r"^\d{13}-[0-9a-f]{8}$")]


class ChatMessage(msgspec.Struct, kw_only=True):
    id: str
    room_id: uuid.UUID
    participant_id: uuid.UUID | None
    display_name: str
    message_type: Literal["user", "system"]
    content: str
    created_at: datetime
    edited_at: datetime | None = None


class SendMessage(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    content: str


class MessagePage(msgspec.Struct, kw_only=True):
    items: list[ChatMessage]
    has_more: bool


# -- events: published on the room's channel, pushed to every socket in the room ----------


class MessageCreated(msgspec.Struct, kw_only=True, tag="message.created", tag_field="type"):
    message: ChatMessage


class MessageEdited(msgspec.Struct, kw_only=True, tag="message.edited", tag_field="type"):
    message: ChatMessage


class MessageDeleted(msgspec.Struct, kw_only=True, tag="message.deleted", tag_field="type"):
    message_id: str
    deleted_by: uuid.UUID


class ParticipantJoined(msgspec.Struct, kw_only=True, tag="participant.joined", tag_field="type"):
    participant: ParticipantView


class ParticipantLeft(msgspec.Struct, kw_only=True, tag="participant.left", tag_field="type"):
    participant_id: uuid.UUID
    display_name: str
    reason: Literal["left", "removed", "room_ended"]


class HostChanged(msgspec.Struct, kw_only=True, tag="host.changed", tag_field="type"):
    host: ParticipantView


class RoomEnded(msgspec.Struct, kw_only=True, tag="room.ended", tag_field="type"):
    reason: str


class Typing(msgspec.Struct, kw_only=True, tag="typing", tag_field="type"):
    participant_id: uuid.UUID
    display_name: str


RoomEvent = (
    MessageCreated
    | MessageEdited
    | MessageDeleted
    | ParticipantJoined
    | ParticipantLeft
    | HostChanged
    | RoomEnded
    | Typing
)


class EventHead(msgspec.Struct):
    """The part of an event a socket needs to decide whether it must close."""

    type: str
    participant_id: uuid.UUID | None = None
    reason: str | None = None


# -- frames a client sends -----------------------------------------------------------------

ClientContent = Annotated[str, msgspec.Meta(max_length=20_000)]


class ClientPing(msgspec.Struct, tag="ping", tag_field="type"):
    pass


class ClientTyping(msgspec.Struct, tag="typing", tag_field="type"):
    pass


class ClientSend(msgspec.Struct, tag="message.send", tag_field="type"):
    content: ClientContent
    client_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None


ClientFrame = ClientPing | ClientTyping | ClientSend

"""Chat messages, their events on the room topic, and the chat frames a client sends."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

import msgspec


@dataclass(frozen=True, slots=True)
class Author:
    """Who writes: a participant whose seat the owner of the conversation checked."""

    participant_id: uuid.UUID
    display_name: str
    moderator: bool  # may delete anyone's message (a room's host)


# What a system message tells, by kind: its `content` says it in English for clients that
# only show text; `system` says it as data, for clients to word in their reader's language.
SystemKind = Literal[
    "joined",  # name (participant_id) joined
    "left",  # name left
    "removed",  # name was removed by the host
    "renamed",  # previous_name is now name
    "host_changed",  # name is now the host
    "locked",  # the host locked the room
    "unlocked",  # the host unlocked it
    "ended",  # the meeting has ended
]


class SystemNote(msgspec.Struct, kw_only=True, omit_defaults=True):
    kind: SystemKind
    participant_id: uuid.UUID | None = None  # whom it is about, if anyone
    name: str | None = None
    previous_name: str | None = None


class ChatMessage(msgspec.Struct, kw_only=True):
    id: str
    room_id: uuid.UUID
    participant_id: uuid.UUID | None
    display_name: str
    message_type: Literal["user", "system"]
    content: str
    created_at: datetime
    edited_at: datetime | None = None
    system: SystemNote | None = None  # on system messages (older ones have none)


class SendMessage(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    content: str


class MessagePage(msgspec.Struct, kw_only=True):
    items: list[ChatMessage]
    has_more: bool


class DeleteResult(msgspec.Struct):
    id: str
    deleted: bool = True


# -- events on the conversation's topic -----------------------------------------------------


class MessageCreated(
    msgspec.Struct, kw_only=True, omit_defaults=True, tag="message.created", tag_field="type"
):
    message: ChatMessage
    # The sender's `client_id` from its `message.send` frame, if it gave one: with it the
    # sender matches the message to its draft, even when the `message.sent` ack was lost.
    client_id: str | None = None


class MessageEdited(msgspec.Struct, kw_only=True, tag="message.edited", tag_field="type"):
    message: ChatMessage


class MessageDeleted(msgspec.Struct, kw_only=True, tag="message.deleted", tag_field="type"):
    message_id: str
    deleted_by: uuid.UUID


class Typing(msgspec.Struct, kw_only=True, tag="typing", tag_field="type"):
    participant_id: uuid.UUID
    display_name: str


# -- frames a client sends -----------------------------------------------------------------

ClientContent = Annotated[str, msgspec.Meta(max_length=20_000)]


class ClientTyping(msgspec.Struct, tag="typing", tag_field="type"):
    pass


class ClientSend(msgspec.Struct, tag="message.send", tag_field="type"):
    content: ClientContent
    client_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None

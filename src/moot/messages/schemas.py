"""Durable messages as they cross the wire, the same for a channel and a direct conversation,
and their events on the conversation's topic and on the reader's `user:` topic."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

import msgspec

ConversationKind = Literal["channel", "dm"]
MessageId = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]


@dataclass(frozen=True, slots=True)
class Conversation:
    """What messages belong to; its owner (channels, later direct messages) says which."""

    id: uuid.UUID
    kind: ConversationKind

    @property
    def topic(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True, slots=True)
class Speaker:
    """Someone the conversation's owner admitted, and what it allows them."""

    conversation: Conversation
    account_id: uuid.UUID
    moderator: bool  # deletes anyone's message and may mention @everyone (a space's admins)


@dataclass(frozen=True, slots=True)
class Mentionable:
    """An account that may be mentioned here (one who sees the conversation)."""

    account_id: uuid.UUID
    display_name: str


# -- requests ------------------------------------------------------------------------------


class PostMessage(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    content: str
    reply_to: MessageId | None = None
    # Attachments are not built yet; an empty list is accepted, anything else refused.
    attachment_ids: list[str] = msgspec.field(default_factory=list)


class EditMessage(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    content: str


class MarkRead(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    message_id: MessageId


# -- views ---------------------------------------------------------------------------------


class Quoted(msgspec.Struct, kw_only=True):
    """The message a reply answers: its start, or nothing if it was deleted."""

    id: int
    author_id: uuid.UUID | None
    content: str  # at most the first 200 characters; "" once deleted
    deleted: bool


class Reaction(msgspec.Struct, kw_only=True):
    emoji: str
    count: int
    me: bool  # the asking account reacted so (false in events: clients keep their own)


class Message(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: int
    channel_id: uuid.UUID | None = None  # one of these two names the conversation
    dm_id: uuid.UUID | None = None
    author_id: uuid.UUID | None  # None once the author's account is deleted
    content: str  # "" once deleted
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    reply_to: Quoted | None
    mentions: list[uuid.UUID]
    mentions_everyone: bool
    reactions: list[Reaction]
    pinned: bool
    pinned_at: datetime | None
    pinned_by: uuid.UUID | None


class MessageHistory(msgspec.Struct, kw_only=True):
    items: list[Message]  # oldest first
    has_more: bool  # more in the direction asked (older without `after`, newer with it)


class PinList(msgspec.Struct, kw_only=True):
    items: list[Message]  # most recently pinned first


class ReactionState(msgspec.Struct, kw_only=True):
    message_id: int
    emoji: str
    count: int
    me: bool


class ReadState(msgspec.Struct, kw_only=True, omit_defaults=True):
    channel_id: uuid.UUID | None = None
    dm_id: uuid.UUID | None = None
    last_read_id: int
    unread_count: int  # others' messages after the marker, deleted ones not counted
    mention_count: int  # of those, the ones mentioning you (by name or @everyone)


# -- events ---------------------------------------------------------------------------------


class MessageCreated(msgspec.Struct, kw_only=True, tag="message.created", tag_field="type"):
    message: Message


class MessageEdited(msgspec.Struct, kw_only=True, tag="message.edited", tag_field="type"):
    message: Message


class MessageDeleted(msgspec.Struct, kw_only=True, tag="message.deleted", tag_field="type"):
    message_id: int
    deleted_by: uuid.UUID


class ReactionUpdated(msgspec.Struct, kw_only=True, tag="reaction.updated", tag_field="type"):
    message_id: int
    emoji: str
    count: int
    account_id: uuid.UUID  # who reacted or took their reaction back
    added: bool


class PinUpdated(msgspec.Struct, kw_only=True, tag="pin.updated", tag_field="type"):
    message_id: int
    pinned: bool
    by: uuid.UUID
    message: Message


class ReadUpdated(
    msgspec.Struct, kw_only=True, omit_defaults=True, tag="read.updated", tag_field="type"
):
    """On the account's own `user:{id}` topic: every device sees the same counts."""

    channel_id: uuid.UUID | None = None
    dm_id: uuid.UUID | None = None
    last_read_id: int
    unread_count: int
    mention_count: int


Event = MessageCreated | MessageEdited | MessageDeleted | ReactionUpdated | PinUpdated

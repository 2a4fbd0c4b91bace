"""Channel payloads that cross the wire, and the channel events on `space:`, `user:` and
`channel:` topics."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from moot.messages.schemas import Message
from moot.spaces.schemas import Role

ChannelKind = Literal["text", "voice"]
ChannelName = Annotated[str, msgspec.Meta(max_length=200)]
ChannelTopicText = Annotated[str, msgspec.Meta(max_length=1024)]
SlowMode = Annotated[int, msgspec.Meta(ge=0, le=21600)]  # seconds, up to 6 hours
Position = Annotated[int, msgspec.Meta(ge=0, le=100_000)]
MemberIds = Annotated[list[uuid.UUID], msgspec.Meta(max_length=1000)]
Roles = Annotated[list[Role], msgspec.Meta(max_length=3)]


class CreateChannel(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: ChannelName
    kind: ChannelKind = "text"
    private: bool = False
    topic: ChannelTopicText = ""
    position: Position | None = None  # default: after the space's last channel
    slow_mode_seconds: SlowMode = 0
    # A private channel is shown to these accounts and roles (and the space's owner); its
    # creator is always listed.
    member_ids: MemberIds = msgspec.field(default_factory=list)
    roles: Roles = msgspec.field(default_factory=list)


class UpdateChannel(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Only what is given changes."""

    name: ChannelName | None = None
    topic: ChannelTopicText | None = None
    position: Position | None = None
    private: bool | None = None
    slow_mode_seconds: SlowMode | None = None
    member_ids: MemberIds | None = None
    roles: Roles | None = None


class ChannelRead(msgspec.Struct, kw_only=True):
    """The caller's read state in a text channel."""

    last_read_id: int
    last_message_id: int
    unread_count: int
    mention_count: int


class ChannelView(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: uuid.UUID
    space_id: uuid.UUID
    kind: ChannelKind
    name: str
    topic: str
    position: int
    private: bool
    member_ids: list[uuid.UUID]  # a private channel's listed accounts; [] for a public one
    roles: list[Role]  # a private channel's listed roles
    slow_mode_seconds: int
    created_at: datetime
    updated_at: datetime
    read: ChannelRead | None = None  # in `GET …/channels`, for text channels


class ChannelList(msgspec.Struct, kw_only=True):
    items: list[ChannelView]  # by position, then creation


class ChannelRef(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str


class SearchHit(msgspec.Struct, kw_only=True):
    message: Message
    channel: ChannelRef


class SearchResults(msgspec.Struct, kw_only=True):
    items: list[SearchHit]  # newest first


# -- events ---------------------------------------------------------------------------------


class ChannelCreated(msgspec.Struct, kw_only=True, tag="channel.created", tag_field="type"):
    channel: ChannelView


class ChannelUpdated(msgspec.Struct, kw_only=True, tag="channel.updated", tag_field="type"):
    channel: ChannelView


class ChannelDeleted(msgspec.Struct, kw_only=True, tag="channel.deleted", tag_field="type"):
    channel_id: uuid.UUID
    space_id: uuid.UUID


class AccessRevoked(msgspec.Struct, kw_only=True, tag="channel.access_revoked", tag_field="type"):
    """Ephemeral, addressed (`to`): ends that account's subscriptions to the channel."""

    to: uuid.UUID
    channel_id: uuid.UUID


class Typing(msgspec.Struct, kw_only=True, tag="typing", tag_field="type"):
    channel_id: uuid.UUID
    account_id: uuid.UUID


ChannelEvent = ChannelCreated | ChannelUpdated | ChannelDeleted


class ClientTyping(msgspec.Struct, tag="typing", tag_field="type"):
    """The one frame a client sends on a channel topic (messages go over REST)."""

    topic: str | None = None

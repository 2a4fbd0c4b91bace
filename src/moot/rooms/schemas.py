"""Room and participant payloads that cross the wire."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from moot.media.schemas import MediaAccess

Title = Annotated[str, msgspec.Meta(max_length=200)]
Description = Annotated[str, msgspec.Meta(max_length=2000)]
DisplayName = Annotated[str, msgspec.Meta(max_length=200)]
Role = Literal["host", "participant"]
# What a deleted account's seats and chat messages are called from then on: a fixed name that
# clients recognise and show in their own language ("deleted account").
DELETED_ACCOUNT_NAME = "Deleted account"


class CreateRoom(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: Title = ""
    description: Description | None = None
    max_participants: Annotated[int, msgspec.Meta(ge=2)] | None = None
    # Without one: the account's display name when signed in, else "Host".
    display_name: DisplayName | None = None


class JoinRoom(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # Required of anonymous callers; a signed-in caller's default is the account's name.
    display_name: DisplayName | None = None


class TransferHost(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    participant_id: uuid.UUID


class ParticipantView(msgspec.Struct, kw_only=True):
    participant_id: uuid.UUID
    display_name: str
    role: Role
    joined_at: datetime


class RoomView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    code: str
    title: str
    description: str | None
    status: Literal["active", "ended"]
    locked: bool
    max_participants: int
    participant_count: int
    created_at: datetime
    expires_at: datetime | None
    ended_at: datetime | None
    livekit_room_name: str
    # How many can really be in the room at once, and what sets that number: the room's own
    # `max_participants`, or a peer-to-peer mesh's cap (MOOT_MESH_MAX_PARTICIPANTS), lower.
    capacity: int = 0
    capacity_limited_by: Literal["room", "mesh"] = "room"


class RoomSession(RoomView, kw_only=True):
    """What the creator or a joiner gets back: the room, their own place in it, and how to
    connect audio and video right away (what POST …/media/token returns; null when it could
    not be issued with the join, say LiveKit is down: that endpoint's error says why)."""

    you: ParticipantView
    media: MediaAccess | None = None


class ParticipantList(msgspec.Struct, kw_only=True):
    items: list[ParticipantView]


class LeaveResult(msgspec.Struct, kw_only=True):
    left: bool
    you: ParticipantView
    new_host: ParticipantView | None = None


# -- events on the room's topic (room:{id}), published after each commit by rooms/events.py --


class ParticipantJoined(msgspec.Struct, kw_only=True, tag="participant.joined", tag_field="type"):
    participant: ParticipantView


class ParticipantUpdated(msgspec.Struct, kw_only=True, tag="participant.updated", tag_field="type"):
    """Someone already in the room changed their display name (they joined again with it)."""

    participant: ParticipantView


class ParticipantLeft(msgspec.Struct, kw_only=True, tag="participant.left", tag_field="type"):
    participant_id: uuid.UUID
    display_name: str
    reason: Literal["left", "removed", "room_ended"]


class HostChanged(msgspec.Struct, kw_only=True, tag="host.changed", tag_field="type"):
    host: ParticipantView


class RoomUpdated(msgspec.Struct, kw_only=True, tag="room.updated", tag_field="type"):
    """The host changed a room setting everyone's client shows (today: the lock)."""

    locked: bool


class RoomEnded(msgspec.Struct, kw_only=True, tag="room.ended", tag_field="type"):
    reason: str


# -- presence on the room's topic: ephemeral (never replayed), published by rooms/topic.py --


class ParticipantReconnecting(
    msgspec.Struct, kw_only=True, tag="participant.reconnecting", tag_field="type"
):
    """Their last socket closed: they keep their seat for the grace period (a reload, a lost
    network); `participant.left` follows if they do not come back."""

    participant_id: uuid.UUID


class ParticipantReconnected(
    msgspec.Struct, kw_only=True, tag="participant.reconnected", tag_field="type"
):
    """Back within the grace period."""

    participant_id: uuid.UUID


# -- frames a client sends on the room's topic ------------------------------------------------


class ClientAway(msgspec.Struct, tag="away", tag_field="type"):
    """This tab is going away (its page is unloading): if no socket of theirs comes back
    within the closed-tab wait, they have left. A reload comes back well within it."""

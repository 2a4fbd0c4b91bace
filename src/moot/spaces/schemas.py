"""Space, member and invite payloads that cross the wire."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from moot.accounts.schemas import AccountView
from moot.rooms.schemas import Description, RoomView, Title

SpaceName = Annotated[str, msgspec.Meta(max_length=200)]
Role = Literal["owner", "admin", "member"]


class CreateSpace(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: SpaceName


class UpdateSpace(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Each field given is changed: the name (owner); the meeting settings (admins):
    `members_only` (guests may not join the space's rooms by link) and
    `session_retention_days` (past sessions older than that are deleted; null: kept until
    deleted)."""

    name: SpaceName | msgspec.UnsetType = msgspec.UNSET
    members_only: bool | msgspec.UnsetType = msgspec.UNSET
    session_retention_days: (
        Annotated[int, msgspec.Meta(ge=1, le=3650)] | msgspec.UnsetType | None
    ) = msgspec.UNSET


class ChangeRole(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`owner` hands the space over (the owner alone may): the old owner becomes an admin."""

    role: Role


class CreateInvite(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    max_uses: Annotated[int, msgspec.Meta(ge=1, le=100_000)] | None = None
    expires_in_seconds: Annotated[int, msgspec.Meta(ge=60, le=365 * 24 * 3600)] | None = None


class SpaceView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    role: Role  # the caller's
    member_count: int
    active: bool  # the caller's active space
    created_at: datetime
    members_only: bool = False  # guests may not join its meeting rooms by link
    session_retention_days: int | None = None  # past sessions kept this long; None: until deleted


class SpaceList(msgspec.Struct, kw_only=True):
    items: list[SpaceView]


class Me(msgspec.Struct, kw_only=True):
    account: AccountView
    spaces: list[SpaceView]


class MemberView(msgspec.Struct, kw_only=True):
    account_id: uuid.UUID
    display_name: str
    role: Role
    joined_at: datetime


class MemberList(msgspec.Struct, kw_only=True):
    items: list[MemberView]


class InviteView(msgspec.Struct, kw_only=True):
    code: str
    space_id: uuid.UUID
    max_uses: int | None
    uses: int
    expires_at: datetime | None
    created_at: datetime


class InviteSpace(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    member_count: int


class InvitePreview(msgspec.Struct, kw_only=True):
    """What anyone with the code sees before signing in."""

    code: str
    space: InviteSpace
    expires_at: datetime | None


# -- space meetings: rooms that stay, and the sessions held in them ---------------------------


class CreateSpaceRoom(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: Title
    description: Description | None = None
    max_participants: Annotated[int, msgspec.Meta(ge=2)] | None = None


class AttendeeView(msgspec.Struct, kw_only=True):
    """One stay in a meeting: someone's join and leave (None: still there)."""

    participant_id: uuid.UUID
    account_id: uuid.UUID | None  # None: a guest (or an account deleted since)
    display_name: str
    joined_at: datetime
    left_at: datetime | None


class MeetingNow(msgspec.Struct, kw_only=True):
    """The meeting going on in a room: its session and who is in it."""

    session_id: uuid.UUID
    room_id: uuid.UUID
    started_at: datetime
    participants: list[AttendeeView]


class SpaceRoomView(RoomView, kw_only=True):
    """A room as everywhere else, plus the space it belongs to and its meeting, if any."""

    space_id: uuid.UUID
    meeting: MeetingNow | None = None


class SpaceRoomList(msgspec.Struct, kw_only=True):
    items: list[SpaceRoomView]


EndReason = Literal["empty", "host"]


class SessionView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    space_id: uuid.UUID
    room_id: uuid.UUID
    room_code: str
    room_title: str
    started_at: datetime
    ended_at: datetime | None  # None: going on now
    end_reason: EndReason | None  # the room emptied, or its host ended the meeting
    attendees: list[AttendeeView]


class SessionPage(msgspec.Struct, kw_only=True):
    items: list[SessionView]  # newest first
    has_more: bool
    next_before: uuid.UUID | None  # pass back as `before` for older sessions


# -- events on the space's topic (space:{id}) ------------------------------------------------


class MemberJoined(msgspec.Struct, kw_only=True, tag="member.joined", tag_field="type"):
    member: MemberView


class MemberLeft(msgspec.Struct, kw_only=True, tag="member.left", tag_field="type"):
    participant_id: uuid.UUID  # the account's id (its participant id in meetings)
    display_name: str


class MemberRemoved(msgspec.Struct, kw_only=True, tag="member.removed", tag_field="type"):
    participant_id: uuid.UUID
    display_name: str
    by: uuid.UUID


class RoleChanged(msgspec.Struct, kw_only=True, tag="role.changed", tag_field="type"):
    member: MemberView


class InviteUsed(msgspec.Struct, kw_only=True, tag="invite.used", tag_field="type"):
    code: str
    uses: int
    max_uses: int | None
    account_id: uuid.UUID


class SpaceUpdated(msgspec.Struct, kw_only=True, tag="space.updated", tag_field="type"):
    name: str
    members_only: bool
    session_retention_days: int | None


class SpaceDeleted(msgspec.Struct, kw_only=True, tag="space.deleted", tag_field="type"):
    pass


class RoomCreated(msgspec.Struct, kw_only=True, tag="room.created", tag_field="type"):
    room: SpaceRoomView


class RoomDeleted(msgspec.Struct, kw_only=True, tag="room.deleted", tag_field="type"):
    room_id: uuid.UUID


class MeetingStarted(msgspec.Struct, kw_only=True, tag="meeting.started", tag_field="type"):
    meeting: MeetingNow


class MeetingUpdated(msgspec.Struct, kw_only=True, tag="meeting.updated", tag_field="type"):
    """Someone came or went: `meeting.participants` is who is in it now."""

    meeting: MeetingNow


class MeetingEnded(msgspec.Struct, kw_only=True, tag="meeting.ended", tag_field="type"):
    session_id: uuid.UUID
    room_id: uuid.UUID
    started_at: datetime
    ended_at: datetime
    reason: EndReason


# -- events on an account's own topic (user:{id}) ---------------------------------------------


class SpaceJoined(msgspec.Struct, kw_only=True, tag="space.joined", tag_field="type"):
    """The account is in a new space (it made one, accepted an invite, or got a fresh one)."""

    space: SpaceView


class SpaceLeft(msgspec.Struct, kw_only=True, tag="space.left", tag_field="type"):
    space_id: uuid.UUID
    reason: Literal["left", "removed", "deleted"]

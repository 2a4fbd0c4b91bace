"""Space, member and invite payloads that cross the wire."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from moot.accounts.schemas import AccountView

SpaceName = Annotated[str, msgspec.Meta(max_length=200)]
Role = Literal["owner", "admin", "member"]


class CreateSpace(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: SpaceName


class RenameSpace(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: SpaceName


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

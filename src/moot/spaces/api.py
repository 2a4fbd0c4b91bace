"""HTTP handlers for spaces, their members and invites, and `GET /api/v1/me` (the account
with its spaces). Every one but the invite preview needs a signed-in account."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from moot.accounts.api import SIGNED_IN, Account
from moot.errors import ErrorCode
from moot.http import answers
from moot.services import Svc
from moot.spaces.schemas import (
    ChangeRole,
    CreateInvite,
    CreateSpace,
    InvitePreview,
    InviteView,
    Me,
    MemberList,
    MemberView,
    RenameSpace,
    SpaceList,
    SpaceView,
)


@get(
    "/api/v1/me",
    tags=["accounts"],
    summary="The signed-in account and its spaces",
    responses=answers(*SIGNED_IN),
)
async def me(services: Svc, account: Account) -> Me:
    spaces = await services.spaces.list_spaces(account.account.id)
    return Me(account=account.account, spaces=spaces)


# A route about a space the caller is in; one that changes it, needing a role there.
# (`not_found`: an id in the path that is not a UUID names no route at all.)
IN_SPACE: tuple[ErrorCode, ...] = (*SIGNED_IN, "not_space_member", "not_found")
MANAGING: tuple[ErrorCode, ...] = (*IN_SPACE, "insufficient_role")


class SpaceController(Controller):
    path = "/api/v1/spaces"
    tags = ["spaces"]

    @get("/", summary="Your spaces, with your role in each", responses=answers(*SIGNED_IN))
    async def list_spaces(self, services: Svc, account: Account) -> SpaceList:
        return SpaceList(items=await services.spaces.list_spaces(account.account.id))

    @post(
        "/",
        status_code=201,
        summary="Create a space; you own it",
        responses=answers(*SIGNED_IN, "validation_failed"),
    )
    async def create_space(
        self, data: JSONBody[CreateSpace], services: Svc, account: Account
    ) -> SpaceView:
        return await services.spaces.create_space(account.account.id, data.name)

    @patch(
        "/{space_id:uuid}",
        summary="Rename (owner)",
        responses=answers(*MANAGING, "validation_failed"),
    )
    async def rename_space(
        self,
        data: JSONBody[RenameSpace],
        services: Svc,
        account: Account,
        space_id: FromPath[uuid.UUID],
    ) -> SpaceView:
        return await services.spaces.rename_space(account.account.id, space_id, data.name)

    @delete(
        "/{space_id:uuid}",
        status_code=204,
        summary="Delete (owner; 409 last_space)",
        responses=answers(*MANAGING, "last_space"),
    )
    async def delete_space(
        self, services: Svc, account: Account, space_id: FromPath[uuid.UUID]
    ) -> None:
        await services.spaces.delete_space(account.account.id, space_id)

    @post(
        "/{space_id:uuid}/activate",
        status_code=200,
        summary="Make it your active space",
        responses=answers(*IN_SPACE),
    )
    async def activate(
        self, services: Svc, account: Account, space_id: FromPath[uuid.UUID]
    ) -> SpaceView:
        return await services.spaces.activate(account.account.id, space_id)

    @get(
        "/{space_id:uuid}/members",
        summary="Members and their roles (members)",
        responses=answers(*IN_SPACE),
    )
    async def list_members(
        self, services: Svc, account: Account, space_id: FromPath[uuid.UUID]
    ) -> MemberList:
        return MemberList(items=await services.spaces.list_members(account.account.id, space_id))

    @patch(
        "/{space_id:uuid}/members/{member_id:uuid}",
        summary="Change a member's role (admin); `owner` hands the space over (owner)",
        responses=answers(*MANAGING, "validation_failed", "not_found", "owner_must_transfer"),
    )
    async def change_role(
        self,
        data: JSONBody[ChangeRole],
        services: Svc,
        account: Account,
        space_id: FromPath[uuid.UUID],
        member_id: FromPath[uuid.UUID],
    ) -> MemberView:
        return await services.spaces.change_role(account.account.id, space_id, member_id, data.role)

    @delete(
        "/{space_id:uuid}/members/{member_id:uuid}",
        status_code=204,
        summary="Leave (your own id) or remove a member (admin)",
        responses=answers(*MANAGING, "not_found", "owner_must_transfer", "last_space"),
    )
    async def remove_member(
        self,
        services: Svc,
        account: Account,
        space_id: FromPath[uuid.UUID],
        member_id: FromPath[uuid.UUID],
    ) -> None:
        await services.spaces.remove_member(account.account.id, space_id, member_id)

    @post(
        "/{space_id:uuid}/invites",
        status_code=201,
        summary="Create an invite (admin)",
        responses=answers(*MANAGING, "validation_failed"),
    )
    async def create_invite(
        self,
        services: Svc,
        account: Account,
        space_id: FromPath[uuid.UUID],
        data: JSONBody[CreateInvite | None] = None,
    ) -> InviteView:
        body = data if data is not None else CreateInvite()
        return await services.spaces.create_invite(account.account.id, space_id, body)

    @delete(
        "/{space_id:uuid}/invites/{code:str}",
        status_code=204,
        summary="Revoke (admin)",
        responses=answers(*MANAGING, "invite_not_found"),
    )
    async def revoke_invite(
        self, services: Svc, account: Account, space_id: FromPath[uuid.UUID], code: FromPath[str]
    ) -> None:
        await services.spaces.revoke_invite(account.account.id, space_id, code)


class InviteController(Controller):
    path = "/api/v1/invites"
    tags = ["spaces"]

    @get(
        "/{code:str}",
        summary="Preview the space an invite leads to (no sign-in needed)",
        responses=answers("invite_not_found", "invite_expired", "invite_used_up", "rate_limited"),
    )
    async def preview(self, services: Svc, code: FromPath[str]) -> InvitePreview:
        return await services.spaces.preview_invite(code)

    @post(
        "/{code:str}/accept",
        status_code=200,
        summary="Join the space (signed in)",
        responses=answers(*SIGNED_IN, "invite_not_found", "invite_expired", "invite_used_up"),
    )
    async def accept(self, services: Svc, account: Account, code: FromPath[str]) -> SpaceView:
        return await services.spaces.accept_invite(account.account.id, code)

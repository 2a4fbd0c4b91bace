"""HTTP handlers for spaces, their members, invites, meeting rooms and sessions, and `GET
/api/v1/me` (the account with its spaces). Every one but the invite preview needs a
signed-in account."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from litestar import Controller, Response, delete, get, patch, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import FromPath, FromQuery, JSONBody, Parameter

from moot.accounts.api import SIGNED_IN, Account
from moot.errors import ErrorCode
from moot.http import RoomRef, answers
from moot.services import Svc
from moot.spaces.schemas import (
    ChangeRole,
    CreateInvite,
    CreateSpace,
    CreateSpaceRoom,
    InvitePreview,
    InviteView,
    Me,
    MemberList,
    MemberView,
    SessionPage,
    SessionView,
    SpaceList,
    SpaceRoomList,
    SpaceRoomView,
    SpaceView,
    UpdateSpace,
)
from moot.transcription.export import MEDIA_TYPES
from moot.transcription.schemas import TranscriptPage, TranscriptSegment


@get(
    "/api/v1/me",
    tags=["accounts"],
    summary="The signed-in account and its spaces",
    responses=answers(*SIGNED_IN),
)
async def me(services: Svc, account: Account) -> Me:
    spaces = await services.spaces.list_spaces(account.account.id)
    return Me(account=account.account, spaces=spaces)


@dataclass
class _DownloadOperation(Operation):
    """A transcript export's 200 in every media type it is served as: JSON (the segments) and
    the text formats, which are strings."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        assert isinstance(ok, OpenAPIResponse)
        assert ok.content is not None
        for media_type in MEDIA_TYPES.values():
            bare = media_type.partition(";")[0]
            ok.content.setdefault(bare, OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)))


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
        summary="Rename (owner); members_only, session_retention_days (admin)",
        responses=answers(*MANAGING, "validation_failed"),
    )
    async def update_space(
        self,
        data: JSONBody[UpdateSpace],
        services: Svc,
        account: Account,
        space_id: FromPath[uuid.UUID],
    ) -> SpaceView:
        return await services.spaces.update_space(account.account.id, space_id, data)

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

    # -- meeting rooms -------------------------------------------------------------------

    @post(
        "/{space_id:uuid}/rooms",
        status_code=201,
        summary="Create a meeting room that stays (admin); its code is its stable link",
        responses=answers(*MANAGING, "validation_failed", "media_unavailable"),
    )
    async def create_room(
        self,
        data: JSONBody[CreateSpaceRoom],
        services: Svc,
        account: Account,
        space_id: FromPath[uuid.UUID],
    ) -> SpaceRoomView:
        return await services.space_rooms.create(account.account.id, space_id, data)

    @get(
        "/{space_id:uuid}/rooms",
        summary="The space's meeting rooms, each with who is in it now (members)",
        responses=answers(*IN_SPACE),
    )
    async def list_rooms(
        self, services: Svc, account: Account, space_id: FromPath[uuid.UUID]
    ) -> SpaceRoomList:
        items = await services.space_rooms.list_rooms(account.account.id, space_id)
        return SpaceRoomList(items=items)

    @delete(
        "/{space_id:uuid}/rooms/{room:str}",
        status_code=204,
        summary="Delete a meeting room with its sessions and transcripts (admin)",
        responses=answers(*MANAGING, "room_not_found", "media_unavailable", "media_server_error"),
    )
    async def delete_room(
        self, services: Svc, account: Account, space_id: FromPath[uuid.UUID], room: RoomRef
    ) -> None:
        await services.space_rooms.delete(account.account.id, space_id, room)

    # -- sessions: the meetings held in the space's rooms ----------------------------------

    @get(
        "/{space_id:uuid}/sessions",
        summary="Past and current meetings, newest first, with who came (members)",
        responses=answers(*IN_SPACE, "validation_failed"),
    )
    async def list_sessions(
        self,
        services: Svc,
        account: Account,
        space_id: FromPath[uuid.UUID],
        before: Annotated[
            uuid.UUID | None, Parameter(description="next_before of the page before")
        ] = None,
        room: Annotated[
            str | None, Parameter(description="only this room's (its UUID or code)")
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
    ) -> SessionPage:
        return await services.space_sessions.list_sessions(
            account.account.id, space_id, before=before, room=room, limit=limit
        )

    @get(
        "/{space_id:uuid}/sessions/{session_id:uuid}",
        summary="One meeting: when, and who came (members)",
        responses=answers(*IN_SPACE, "session_not_found"),
    )
    async def get_session(
        self,
        services: Svc,
        account: Account,
        space_id: FromPath[uuid.UUID],
        session_id: FromPath[uuid.UUID],
    ) -> SessionView:
        return await services.space_sessions.get(account.account.id, space_id, session_id)

    @delete(
        "/{space_id:uuid}/sessions/{session_id:uuid}",
        status_code=204,
        summary="Delete a past meeting with its transcript (admin)",
        responses=answers(*MANAGING, "session_not_found", "session_in_progress"),
    )
    async def delete_session(
        self,
        services: Svc,
        account: Account,
        space_id: FromPath[uuid.UUID],
        session_id: FromPath[uuid.UUID],
    ) -> None:
        await services.space_sessions.delete(account.account.id, space_id, session_id)

    @get(
        "/{space_id:uuid}/sessions/{session_id:uuid}/transcript",
        summary="A meeting's transcript, oldest first; times from its start (members)",
        responses=answers(*IN_SPACE, "session_not_found", "validation_failed"),
    )
    async def session_transcript(
        self,
        services: Svc,
        account: Account,
        space_id: FromPath[uuid.UUID],
        session_id: FromPath[uuid.UUID],
        after: Annotated[
            int | None, Parameter(ge=0, le=2**63 - 1, description="next_after of the page before")
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    ) -> TranscriptPage:
        return await services.space_sessions.transcript(
            account.account.id, space_id, session_id, after=after, limit=limit
        )

    @get(
        "/{space_id:uuid}/sessions/{session_id:uuid}/transcript/export",
        summary="A meeting's whole transcript as txt, srt, vtt or json (members)",
        operation_class=_DownloadOperation,
        responses={
            200: ResponseSpec(
                list[TranscriptSegment],
                description="A download (`Content-Disposition: attachment`) in the format asked",
                generate_examples=False,
            ),
            **answers(*IN_SPACE, "session_not_found", "validation_failed"),
        },
    )
    async def export_session_transcript(
        self,
        services: Svc,
        account: Account,
        space_id: FromPath[uuid.UUID],
        session_id: FromPath[uuid.UUID],
        format: FromQuery[Literal["txt", "srt", "vtt", "json"]] = "txt",
    ) -> Response[Any]:
        body, media_type, filename = await services.space_sessions.export(
            account.account.id, space_id, session_id, format
        )
        return Response(
            body,
            headers={
                "Content-Type": media_type,
                "Content-Disposition": f'attachment; filename="{filename}"',
            },
        )


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

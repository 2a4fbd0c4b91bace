"""HTTP handlers for rooms, and the room socket `/ws/chat/{room}`: parse, call, answer."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, WebSocket, delete, get, post, websocket
from litestar.params import FromPath, JSONBody

from moot.accounts.api import current_account, signed_in
from moot.errors import MootError, is_store_outage
from moot.http import CALLER, HOST, MEMBER, Caller, RoomId, RoomRef, answers, client_info
from moot.realtime.close_codes import CloseCode
from moot.realtime.envelope import error
from moot.realtime.gateway import refuse_unavailable
from moot.realtime.tickets import SocketTicket
from moot.rooms.schemas import (
    CreateRoom,
    JoinRoom,
    LeaveResult,
    ParticipantList,
    ParticipantView,
    RoomSession,
    RoomView,
    TransferHost,
)
from moot.services import Svc
from moot.sockets import socket_participant, ticket_holder


class RoomController(Controller):
    path = "/api/v1/rooms"
    tags = ["rooms"]

    @post(
        "/",
        status_code=201,
        summary="Create a room; the caller becomes its host",
        responses=answers(*CALLER, "validation_failed", "media_unavailable", "media_server_error"),
    )
    async def create_room(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[CreateRoom],
        services: Svc,
        participant: Caller,
    ) -> RoomSession:
        account = current_account(request)
        if data.display_name is None and account is not None:
            data = msgspec.structs.replace(data, display_name=account.account.display_name)
        return await services.rooms.create_room(participant, data, client_info(request))

    @get(
        "/{room:str}",
        summary="Room details (anyone with the link; a members-only space's room: its members)",
        responses=answers("room_not_found", "rate_limited", "members_only", "session_expired"),
    )
    async def get_room(
        self, request: Request[Any, Any, Any], services: Svc, room: RoomRef
    ) -> RoomView:
        async def account() -> uuid.UUID | None:
            # Read only for a kept room whose keeper asks who is looking.
            caller = await signed_in(request, services, unsafe=False)
            return caller.account.id if caller is not None else None

        return await services.rooms.look_up(room, client_info(request), account)

    @post(
        "/{room:str}/join",
        status_code=200,
        summary="Join (idempotent per identity)",
        responses=answers(
            *CALLER,
            "validation_failed",
            "room_not_found",
            "room_ended",
            "removed_from_room",
            "room_full",
            "mesh_room_full",
            "room_locked",
            "members_only",
        ),
    )
    async def join_room(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[JoinRoom],
        services: Svc,
        participant: Caller,
        room_id: RoomId,
    ) -> RoomSession:
        account = current_account(request)
        display_name = data.display_name
        if display_name is None and account is not None:
            display_name = account.account.display_name
        if display_name is None:
            raise MootError("validation_failed", "display_name is required.", field="display_name")
        return await services.rooms.join_room(
            room_id, participant, display_name, client_info(request)
        )

    @post(
        "/{room:str}/leave",
        status_code=200,
        summary="Leave; the host role passes on",
        responses=answers(*MEMBER),
    )
    async def leave_room(self, services: Svc, participant: Caller, room_id: RoomId) -> LeaveResult:
        return await services.rooms.leave_room(room_id, participant)

    @get(
        "/{room:str}/participants",
        summary="Who is in the room (participants only)",
        responses=answers(*MEMBER),
    )
    async def list_participants(
        self, services: Svc, participant: Caller, room_id: RoomId
    ) -> ParticipantList:
        return ParticipantList(items=await services.rooms.list_participants(room_id, participant))

    @post(
        "/{room:str}/end",
        status_code=200,
        summary="End the meeting for everyone (host)",
        responses=answers(*HOST, "media_unavailable", "media_server_error"),
    )
    async def end_room(self, services: Svc, participant: Caller, room_id: RoomId) -> RoomView:
        return await services.rooms.end_room(room_id, participant)

    @post(
        "/{room:str}/lock",
        status_code=200,
        summary="Refuse new joins (host)",
        responses=answers(*HOST),
    )
    async def lock_room(self, services: Svc, participant: Caller, room_id: RoomId) -> RoomView:
        return await services.rooms.set_locked(room_id, participant, True)

    @post(
        "/{room:str}/unlock",
        status_code=200,
        summary="Accept new joins again (host)",
        responses=answers(*HOST),
    )
    async def unlock_room(self, services: Svc, participant: Caller, room_id: RoomId) -> RoomView:
        return await services.rooms.set_locked(room_id, participant, False)

    @delete(
        "/{room:str}/participants/{target:uuid}",
        status_code=200,
        summary="Remove a participant (host); they cannot rejoin this meeting",
        responses=answers(
            *HOST, "participant_not_found", "media_unavailable", "media_server_error"
        ),
    )
    async def remove_participant(
        self, services: Svc, participant: Caller, target: FromPath[uuid.UUID], room_id: RoomId
    ) -> ParticipantView:
        return await services.rooms.remove_participant(room_id, participant, target)

    @post(
        "/{room:str}/ws-ticket",
        status_code=200,
        summary="A one-time ticket to open this room's socket (participants)",
        responses=answers(*MEMBER),
    )
    async def room_socket_ticket(
        self, request: Request[Any, Any, Any], services: Svc, participant: Caller, room_id: RoomId
    ) -> SocketTicket:
        """Open `/ws/chat/{room}?ticket=<ticket>` within `expires_in` seconds; the ticket
        opens one socket, to this room only, and keeps the credential out of its URL."""
        await services.rooms.require_participant(room_id, participant)
        holder = ticket_holder(request, participant)
        return await services.tickets.issue(holder, services.tickets.purpose(room_id))

    @post(
        "/{room:str}/host",
        status_code=200,
        summary="Hand the host role to someone (host)",
        responses=answers(*HOST, "validation_failed", "already_host", "participant_not_found"),
    )
    async def transfer_host(
        self, data: JSONBody[TransferHost], services: Svc, participant: Caller, room_id: RoomId
    ) -> ParticipantView:
        return await services.rooms.transfer_host(room_id, participant, data.participant_id)


_CLOSE_FOR = {
    "invalid_credential": CloseCode.INVALID_CREDENTIAL,
    "room_not_found": CloseCode.NOT_FOUND,
    "room_ended": CloseCode.ROOM_ENDED,
    "session_expired": CloseCode.INVALID_CREDENTIAL,
}


@websocket("/ws/chat/{room:str}")
async def room_socket(socket: WebSocket[Any, Any, Any], room: FromPath[str], services: Svc) -> None:
    """The room's live channel: the room topic alone, without `topic` fields, as before the
    gateway. `?ticket=` (from `POST …/ws-ticket`) or `?token=<credential>` authenticates
    (browsers cannot set headers on WebSockets); `?since=<cursor>` replays the events missed
    since then."""
    await socket.accept()
    try:
        caller = await socket_participant(socket, services, room)
        grant = await services.room_topic.grant(caller.participant_id, room)
    except MootError as exc:
        await socket.send_text(error(exc.code, exc.message))
        await socket.close(code=_CLOSE_FOR.get(exc.code, CloseCode.FORBIDDEN), reason=exc.code)
        return
    except Exception as exc:
        if not is_store_outage(exc):
            raise
        await refuse_unavailable(socket)
        return
    await services.gateway.serve_single(
        socket,
        caller.participant_id,
        services.room_topic,
        grant,
        socket.query_params.get("since"),
        caller.session_id,
    )

"""HTTP handlers for rooms: parse, call RoomService, return a schema."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, PathParameter

from moot.chat.service import announce
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
from moot.rooms.service import ClientInfo
from moot.services import Svc

Caller = NamedDependency[uuid.UUID]  # the calling participant, from X-Participant-ID

RoomRef = Annotated[
    str, PathParameter(description="The room's UUID or its code, such as `abc-defg-hij`.")
]


def client_info(request: Request[Any, Any, Any]) -> ClientInfo:
    ip: str | None = request.client.host if request.client else None
    if ip is not None:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            ip = None
    user_agent = request.headers.get("user-agent")
    return ClientInfo(ip=ip, user_agent=user_agent[:512] if user_agent else None)


class RoomController(Controller):
    path = "/api/v1/rooms"
    tags = ["rooms"]

    @post("/", status_code=201, summary="Create a room; the caller becomes its host")
    async def create_room(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[CreateRoom],
        services: Svc,
        participant: Caller,
    ) -> RoomSession:
        session = await services.rooms.create_room(participant, data, client_info(request))
        await announce(services.chat.participant_joined(session.id, session.you))
        return await services.media.with_media(session, room_is_new=True)

    @get("/{room:str}", summary="Room details (anyone with the link)")
    async def get_room(self, services: Svc, room: RoomRef) -> RoomView:
        return await services.rooms.get_room(room)

    @post("/{room:str}/join", status_code=200, summary="Join (idempotent per identity)")
    async def join_room(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[JoinRoom],
        services: Svc,
        participant: Caller,
        room: RoomRef,
    ) -> RoomSession:
        joined = await services.rooms.join_room(
            room, participant, data.display_name, client_info(request)
        )
        session = joined.session
        if joined.new_seat:
            await announce(services.chat.participant_joined(session.id, session.you))
        elif joined.renamed_from is not None:
            await announce(
                services.chat.participant_renamed(session.id, session.you, joined.renamed_from)
            )
        return await services.media.with_media(session)

    @post("/{room:str}/leave", status_code=200, summary="Leave; the host role passes on")
    async def leave_room(
        self, services: Svc, participant: Caller, room: RoomRef
    ) -> LeaveResult:
        room_id, result = await services.rooms.leave_room(room, participant)
        await announce(services.chat.participant_left(room_id, result.you, "left", result.new_host))
        return result

    @get("/{room:str}/participants", summary="Who is in the room (participants only)")
    async def list_participants(
        self, services: Svc, participant: Caller, room: RoomRef
    ) -> ParticipantList:
        return ParticipantList(items=await services.rooms.list_participants(room, participant))

    @post("/{room:str}/end", status_code=200, summary="End the meeting for everyone (host)")
    async def end_room(
        self, services: Svc, participant: Caller, room: RoomRef
    ) -> RoomView:
        ended = await services.rooms.end_room(room, participant)
        await announce(services.chat.room_ended(ended.id, "host"))
        return ended

    @post("/{room:str}/lock", status_code=200, summary="Refuse new joins (host)")
    async def lock_room(
        self, services: Svc, participant: Caller, room: RoomRef
    ) -> RoomView:
        updated = await services.rooms.set_locked(room, participant, True)
        await announce(services.chat.room_updated(updated.id, updated.locked))
        return updated

    @post("/{room:str}/unlock", status_code=200, summary="Accept new joins again (host)")
    async def unlock_room(
        self, services: Svc, participant: Caller, room: RoomRef
    ) -> RoomView:
        updated = await services.rooms.set_locked(room, participant, False)
        await announce(services.chat.room_updated(updated.id, updated.locked))
        return updated

    @delete(
        "/{room:str}/participants/{target:uuid}",
        status_code=200,
        summary="Remove a participant (host); they cannot rejoin",
    )
    async def remove_participant(
        self,
        services: Svc,
        participant: Caller,
        target: FromPath[uuid.UUID],
        room: RoomRef,
    ) -> ParticipantView:
        room_id, removed = await services.rooms.remove_participant(room, participant, target)
        await announce(services.chat.participant_left(room_id, removed, "removed"))
        return removed

    @post("/{room:str}/host", status_code=200, summary="Hand the host role to someone (host)")
    async def transfer_host(
        self,
        data: JSONBody[TransferHost],
        services: Svc,
        participant: Caller,
        room: RoomRef,
    ) -> ParticipantView:
        room_id, new_host = await services.rooms.transfer_host(
            room, participant, data.participant_id
        )
        await announce(services.chat.host_changed(room_id, new_host))
        return new_host

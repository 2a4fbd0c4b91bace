"""HTTP handlers for media: tokens, host mute, ICE configuration, LiveKit webhooks. Who may
have media in a room is the room's rule, so the room-scoped ones ask the room service."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody, Parameter

from moot.errors import MootError
from moot.http import HOST, MEMBER, Caller, RoomId, answers
from moot.media.schemas import MediaAccess, MuteParticipant, MuteResult, WebhookResult, WebRTCConfig
from moot.services import Svc


class MediaController(Controller):
    path = "/api/v1"
    tags = ["media"]

    @post(
        "/rooms/{room:str}/media/token",
        status_code=200,
        summary="How to connect audio/video: a LiveKit token, or mesh mode (participants)",
        responses=answers(*MEMBER, "media_unavailable", "media_server_error"),
    )
    async def media_token(self, services: Svc, participant: Caller, room_id: RoomId) -> MediaAccess:
        return await services.rooms.media_access(room_id, participant)

    @post(
        "/rooms/{room:str}/participants/{target:uuid}/mute",
        status_code=200,
        summary="Mute a participant's audio or video (host)",
        responses=answers(
            *HOST,
            "validation_failed",
            "participant_not_found",
            "media_not_connected",
            "media_unavailable",
            "media_server_error",
        ),
    )
    async def mute_participant(
        self,
        services: Svc,
        participant: Caller,
        room_id: RoomId,
        target: FromPath[uuid.UUID],
        data: JSONBody[MuteParticipant | None] = None,
    ) -> MuteResult:
        kind = data.kind if data is not None else "audio"
        return await services.rooms.mute(room_id, participant, target, kind)

    @get(
        "/rooms/{room:str}/media/webrtc",
        summary="ICE servers: STUN, TURN with credentials that expire with the room (participants)",
        responses=answers(*MEMBER),
    )
    async def room_webrtc_config(
        self, request: Request[Any, Any, Any], services: Svc, participant: Caller, room_id: RoomId
    ) -> WebRTCConfig:
        return await services.rooms.webrtc_config(room_id, participant, request.url.hostname)

    @get(
        "/config/webrtc",
        summary="The same as GET /rooms/{room}/media/webrtc, the room named by `?room=`",
        responses=answers(*MEMBER),
    )
    async def webrtc_config(
        self,
        request: Request[Any, Any, Any],
        services: Svc,
        participant: Caller,
        room: Annotated[
            str | None,
            Parameter(description="The room's UUID or code; without it, 403 not_a_participant."),
        ] = None,
    ) -> WebRTCConfig:
        if room is None:
            # TURN relays cost bandwidth: credentials go to participants of a room only.
            raise MootError(
                "not_a_participant",
                "ICE servers are for participants of a room: pass ?room=<room id or code>.",
            )
        room_id = await services.rooms.resolve_at_edge(room)
        return await services.rooms.webrtc_config(room_id, participant, request.url.hostname)

    @post(
        "/livekit/webhook",
        status_code=200,
        summary="LiveKit webhooks (signed by LiveKit; bad signature → 401)",
        responses=answers("invalid_webhook_signature", "livekit_not_configured"),
    )
    async def livekit_webhook(
        self, request: Request[Any, Any, Any], services: Svc
    ) -> WebhookResult:
        body = await request.body()
        return await services.rooms.media_webhook(body, request.headers.get("authorization", ""))

"""HTTP handlers for media: tokens, host mute, ICE configuration, LiveKit webhooks."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from moot.media.schemas import MediaAccess, MuteParticipant, MuteResult, WebhookResult, WebRTCConfig
from moot.media.service import MediaService
from moot.rooms.api import Caller, RoomRef

Media = NamedDependency[MediaService]


class MediaController(Controller):
    path = "/api/v1"
    tags = ["media"]

    @post(
        "/rooms/{room:str}/media/token",
        status_code=200,
        summary="How to connect audio/video: a LiveKit token, or mesh mode (participants)",
    )
    async def media_token(self, media: Media, participant: Caller, room: RoomRef) -> MediaAccess:
        return await media.access(room, participant)

    @post(
        "/rooms/{room:str}/participants/{target:uuid}/mute",
        status_code=200,
        summary="Mute a participant's audio or video (host)",
    )
    async def mute_participant(
        self,
        media: Media,
        participant: Caller,
        room: RoomRef,
        target: FromPath[uuid.UUID],
        data: JSONBody[MuteParticipant | None] = None,
    ) -> MuteResult:
        kind = data.kind if data is not None else "audio"
        return await media.mute(room, participant, target, kind)

    @get("/config/webrtc", summary="ICE servers: STUN, TURN with expiring credentials, fallbacks")
    async def webrtc_config(self, media: Media, participant: Caller) -> WebRTCConfig:
        return media.webrtc_config(participant)

    @post(
        "/livekit/webhook",
        status_code=200,
        summary="LiveKit webhooks (signed by LiveKit; bad signature → 401)",
    )
    async def livekit_webhook(self, request: Request[Any, Any, Any], media: Media) -> WebhookResult:
        body = await request.body()
        return await media.webhook(body, request.headers.get("authorization", ""))

"""Media for a room: LiveKit when configured, otherwise a peer-to-peer mesh moot signals."""

from __future__ import annotations

import uuid

import structlog
from google.protobuf.json_format import ParseError

from moot.chat.service import ChatService, announce
from moot.errors import MootError
from moot.media.ice import ice_config
from moot.media.livekit import LiveKit, WebhookRejected
from moot.media.schemas import MediaAccess, MuteResult, TrackKind, WebhookResult, WebRTCConfig
from moot.rooms.schemas import ParticipantView, RoomSession, RoomView
from moot.rooms.service import RoomService
from moot.settings import Settings

log = structlog.get_logger(__name__)


class MediaService:
    def __init__(
        self,
        rooms: RoomService,
        chat: ChatService,
        settings: Settings,
        livekit: LiveKit | None,
    ) -> None:
        self._rooms = rooms
        self._chat = chat
        self._settings = settings
        self._livekit = livekit

    async def access(self, ref: str, participant_id: uuid.UUID) -> MediaAccess:
        """How this participant connects media: a LiveKit token, or mesh mode."""
        room, seat = await self._rooms.seat_and_room(ref, participant_id)
        return await self.access_for(room, seat)

    async def with_media(self, session: RoomSession, *, room_is_new: bool = False) -> RoomSession:
        """The session of someone who just created or joined a room, with their media access
        in it: one round trip fewer between clicking Join and seeing video. If it cannot be
        issued now, the session goes without (the join itself succeeded). A room created just
        now is known to exist on LiveKit: creating it made it there."""
        try:
            session.media = await self.access_for(
                session, session.you, ensure_room=not room_is_new
            )
        except MootError as error:
            log.warning("media access not issued with the join", code=error.code)
        return session

    async def access_for(
        self, room: RoomView, seat: ParticipantView, *, ensure_room: bool = True
    ) -> MediaAccess:
        if self._livekit is None:
            return MediaAccess(
                mode="mesh", mesh_max_participants=self._settings.mesh_max_participants
            )
        if ensure_room:
            # LiveKit closes an empty room after its empty timeout; make sure it is there
            # (with our participant limit) before handing out a token for it.
            await self._livekit.ensure_room(room.livekit_room_name, room.max_participants)
        token = self._livekit.token(
            room_name=room.livekit_room_name,
            identity=str(seat.participant_id),
            name=seat.display_name,
            role=seat.role,
        )
        return MediaAccess(
            mode="livekit",
            url=self._livekit.url,
            token=token,
            expires_in=self._livekit.token_ttl_seconds,
            room_name=room.livekit_room_name,
        )

    async def mute(
        self, ref: str, host_id: uuid.UUID, target_id: uuid.UUID, kind: TrackKind
    ) -> MuteResult:
        room, seat = await self._rooms.seat_and_room(ref, host_id)
        if seat.role != "host":
            raise MootError("not_host")
        if not await self._rooms.is_present(room.id, target_id):
            raise MootError("participant_not_found")
        if self._livekit is None:
            await self._chat.request_mute(room.id, host_id, target_id, kind)
            return MuteResult(mode="mesh", muted_tracks=[], requested=True)
        muted = await self._livekit.mute(room.livekit_room_name, str(target_id), kind)
        return MuteResult(mode="livekit", muted_tracks=muted, requested=False)

    def webrtc_config(self, participant_id: uuid.UUID) -> WebRTCConfig:
        settings = self._settings
        config = ice_config(
            stun_servers=settings.stun_servers,
            turn_servers=settings.turn_servers,
            turn_secret=settings.turn_secret,
            ttl_seconds=settings.turn_credential_ttl_seconds,
            fallback_servers=settings.turn_fallback_servers,
            participant=str(participant_id),
        )
        mesh = self._livekit is None
        return WebRTCConfig(
            mode="mesh" if mesh else "livekit",
            ice_servers=config.ice_servers,
            ttl_seconds=config.ttl_seconds,
            fallback_count=config.fallback_count,
            mesh_max_participants=settings.mesh_max_participants if mesh else None,
        )

    async def room_closed(self, room_id: uuid.UUID) -> None:
        """Close the LiveKit room of a meeting that cleanup ended; best effort (LiveKit's own
        empty timeout closes it anyway once everyone's media is gone)."""
        if self._livekit is None:
            return
        name = await self._rooms.livekit_room_name(room_id)
        if name is not None:
            try:
                await self._livekit.delete_room(name)
            except MootError as exc:
                log.warning("livekit_room_not_closed", room_id=str(room_id), error=exc.code)

    async def webhook(self, body: bytes, authorization: str) -> WebhookResult:
        """Apply a LiveKit webhook: a media session started or ended for a participant.

        `room_finished` and the rest are acknowledged and change nothing: LiveKit closing an
        empty media room does not end the meeting.
        """
        if self._livekit is None:
            raise MootError("livekit_not_configured")
        try:
            event = self._livekit.receive_webhook(body, authorization)
        except WebhookRejected as exc:
            log.warning("livekit_webhook_rejected", reason=str(exc))
            raise MootError("invalid_webhook_signature") from None
        except ParseError:
            raise MootError("invalid_request", "The webhook body is not a LiveKit event.") from None
        kind = event.event
        if kind not in ("participant_joined", "participant_left"):
            return WebhookResult(event=kind, applied=False)
        try:
            participant_id = uuid.UUID(event.participant.identity)
        except ValueError:
            return WebhookResult(event=kind, applied=False)  # not one of ours (an agent, say)
        room_name, sid = event.room.name, event.participant.sid
        if kind == "participant_joined":
            applied = await self._rooms.joined_media(room_name, participant_id, sid)
            return WebhookResult(event=kind, applied=applied)
        left = await self._rooms.left_media(room_name, participant_id, sid)
        if left is None:
            return WebhookResult(event=kind, applied=False)
        room_id, result = left
        await announce(self._chat.participant_left(room_id, result.you, "left", result.new_host))
        return WebhookResult(event=kind, applied=True)

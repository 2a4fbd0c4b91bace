"""Media: LiveKit when configured, otherwise a peer-to-peer mesh moot signals. This module
knows how media connects; rooms/ decides who gets it."""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from datetime import datetime

import msgspec
import structlog
from google.protobuf.json_format import ParseError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from moot.errors import MootError
from moot.media.ice import ice_config
from moot.media.livekit import LiveKit, VerifiedWebhook, WebhookRejected
from moot.media.schemas import (
    MediaAccess,
    MediaSessionEvent,
    MuteRequested,
    MuteResult,
    TrackKind,
    WebhookResult,
    WebRTCConfig,
)
from moot.realtime.log import TopicLog
from moot.settings import IceSettings

log = structlog.get_logger(__name__)
_encode = msgspec.json.Encoder().encode

# A room past its expiry is still active until the next cleanup pass ends it; its
# participants get credentials that outlive that pass, never ones already dead.
_MIN_TURN_TTL = 60


def credential_ttl(cap_seconds: int, room_expires_at: datetime | None) -> int:
    """Seconds a TURN credential should live: the room's remaining lifetime, capped (a room
    that never expires gets the cap)."""
    if room_expires_at is None:
        return cap_seconds
    remaining = int(room_expires_at.timestamp() - time.time())
    return min(cap_seconds, max(_MIN_TURN_TTL, remaining))


def _delivery_key(webhook: VerifiedWebhook, body: bytes) -> str:
    """Names one webhook delivery: LiveKit's event id (a retry carries the same one), or the
    signed body's hash for an event without one."""
    event_id = webhook.event.id or hashlib.sha256(body).hexdigest()
    return f"livekit:webhook:{event_id}"


class MediaService:
    def __init__(
        self,
        ice: IceSettings,
        mesh_max_participants: int,
        livekit: LiveKit | None,
        log: TopicLog,
        redis: Redis,
    ) -> None:
        self._ice = ice
        self._mesh_max = mesh_max_participants
        self._livekit = livekit
        self._log = log
        self._redis = redis

    @property
    def mode(self) -> str:
        return "livekit" if self._livekit is not None else "mesh"

    async def access(
        self,
        *,
        room_name: str,
        max_participants: int,
        participant_id: uuid.UUID,
        display_name: str,
        role: str,
        ensure_room: bool = True,
    ) -> MediaAccess:
        """How this participant connects media: a LiveKit token, or mesh mode."""
        if self._livekit is None:
            return MediaAccess(mode="mesh", mesh_max_participants=self._mesh_max)
        if ensure_room:
            # LiveKit closes an empty room after its empty timeout; make sure it is there
            # (with our participant limit) before handing out a token for it.
            await self._livekit.ensure_room(room_name, max_participants)
        token = self._livekit.token(
            room_name=room_name, identity=str(participant_id), name=display_name, role=role
        )
        return MediaAccess(
            mode="livekit",
            url=self._livekit.url,
            token=token,
            expires_in=self._livekit.token_ttl_seconds,
            room_name=room_name,
        )

    async def mute(
        self, topic: str, room_name: str, host_id: uuid.UUID, target_id: uuid.UUID, kind: TrackKind
    ) -> MuteResult:
        """Mute on the LiveKit server, or (mesh) ask the target's client on the room topic."""
        if self._livekit is None:
            event = MuteRequested(to=target_id, kind=kind, by=host_id)
            await self._log.publish_ephemeral(topic, _encode(event))
            return MuteResult(mode="mesh", muted_tracks=[], requested=True)
        muted = await self._livekit.mute(room_name, str(target_id), kind)
        return MuteResult(mode="livekit", muted_tracks=muted, requested=False)

    def webrtc_config(
        self,
        participant_id: uuid.UUID,
        room_expires_at: datetime | None,
        server_host: str | None = None,
    ) -> WebRTCConfig:
        """ICE servers for a participant of a room that ends at `room_expires_at`: their TURN
        credentials die with the room, or after `turn_credential_ttl_seconds` if sooner.
        moot's own STUN server is listed at `server_host`, where the caller reached moot."""
        ice = self._ice
        own_stun = None
        if ice.stun_port and server_host:
            host = f"[{server_host}]" if ":" in server_host else server_host
            own_stun = f"stun:{host}:{ice.stun_port}"
        config = ice_config(
            ice,
            ttl_seconds=credential_ttl(ice.credential_ttl_seconds, room_expires_at),
            participant=str(participant_id),
            own_stun=own_stun,
        )
        mesh = self._livekit is None
        return WebRTCConfig(
            mode="mesh" if mesh else "livekit",
            ice_servers=config.ice_servers,
            ttl_seconds=config.ttl_seconds,
            fallback_count=config.fallback_count,
            mesh_max_participants=self._mesh_max if mesh else None,
        )

    async def close_room(self, room_name: str) -> None:
        """Close the LiveKit room of a meeting that ended; best effort (LiveKit's own empty
        timeout closes it anyway once everyone's media is gone)."""
        if self._livekit is None:
            return
        try:
            await self._livekit.delete_room(room_name)
        except MootError as exc:
            log.warning("livekit_room_not_closed", error=exc.code)

    async def webhook(self, body: bytes, authorization: str) -> MediaSessionEvent | WebhookResult:
        """Verify and read a LiveKit webhook: a participant's media session that started or
        ended, or (anything else: `room_finished`, agents, a delivery seen before) the answer
        that nothing applies."""
        if self._livekit is None:
            raise MootError("livekit_not_configured")
        try:
            verified = self._livekit.receive_webhook(body, authorization)
        except WebhookRejected as exc:
            log.warning("livekit_webhook_rejected", reason=str(exc))
            raise MootError("invalid_webhook_signature") from None
        except ParseError:
            raise MootError("invalid_request", "The webhook body is not a LiveKit event.") from None
        event = verified.event
        kind = event.event
        if kind == "room_finished":
            # LiveKit closed the media room (its empty timeout): the meeting goes on, and the
            # next join creates the media room again.
            await self._livekit.forget_room(event.room.name)
        if kind not in ("participant_joined", "participant_left"):
            return WebhookResult(event=kind, applied=False)
        try:
            participant_id = uuid.UUID(event.participant.identity)
        except ValueError:
            return WebhookResult(event=kind, applied=False)  # not one of ours (an agent, say)
        delivery = _delivery_key(verified, body)
        if not await self._first_delivery(delivery, verified.valid_until):
            # A signed webhook replayed (or retried after it was applied): nothing more
            # happens, and the 200 tells a retrying LiveKit to stop.
            log.info("livekit_webhook_repeated", kind=kind)
            return WebhookResult(event=kind, applied=False)
        return MediaSessionEvent(
            joined=kind == "participant_joined",
            room_name=event.room.name,
            participant_id=participant_id,
            sid=event.participant.sid,
            delivery=delivery,
        )

    async def _first_delivery(self, delivery: str, valid_until: float) -> bool:
        """Claim a delivery for as long as its signature would verify; False if it was
        claimed already. After that window a replay fails verification instead."""
        ttl = max(1, math.ceil(valid_until - time.time()))
        return bool(await self._redis.set(delivery, b"1", nx=True, ex=ttl))

    async def webhook_not_applied(self, event: MediaSessionEvent) -> None:
        """Applying a claimed delivery failed (the database is away): let LiveKit's retry of
        it through (if Redis is away too, the claim expires with the signature's window)."""
        try:
            await self._redis.delete(event.delivery)
        except (RedisError, OSError) as exc:
            log.warning("livekit_webhook_claim_kept", error=type(exc).__name__)

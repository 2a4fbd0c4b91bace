"""LiveKit: access tokens, the room service (Twirp) and webhook verification, via livekit-api.

Every call to the LiveKit server is bounded by `livekit_timeout_seconds` and turned into one
of two errors: 503 `media_unavailable` when the server cannot be reached, 502
`media_server_error` when it answered with an error. "Not found" answers are not errors for
the idempotent operations (deleting a room that LiveKit already closed, removing someone
whose media never connected).

A LiveKit room is created once, not on every join: the first instance to claim
`livekit:room:{name}` in Redis sends CreateRoom; the claim lasts half the room's empty timeout
(LiveKit keeps a room while anyone is in it, and that long after), and is dropped when moot
deletes the room or LiveKit reports it finished, so a room LiveKit closed is created again.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, TypeVar

import aiohttp
import structlog
from google.protobuf.json_format import ParseError
from livekit import api
from livekit.api.room_service import RoomService
from redis.asyncio import Redis

from moot.errors import MootError
from moot.settings import LiveKitSettings

log = structlog.get_logger(__name__)

T = TypeVar("T")

TrackKind = Literal["audio", "video", "all"]
_TRACK_TYPES = {
    "audio": {api.TrackType.AUDIO},
    "video": {api.TrackType.VIDEO},
    "all": {api.TrackType.AUDIO, api.TrackType.VIDEO},
}


def _room_key(room_name: str) -> str:
    return f"livekit:room:{room_name}"


class WebhookRejected(Exception):
    """The webhook's signature or body hash did not verify."""


@dataclass(frozen=True)
class VerifiedWebhook:
    """A webhook whose signature and body hash verified, and until when (unix seconds) its
    token would verify again: a replay of it is possible until then, not after."""

    event: api.WebhookEvent
    valid_until: float


_LEEWAY_SECONDS = api.access_token.DEFAULT_LEEWAY.total_seconds()  # the verifier's, for `exp`


class LiveKit:
    """One LiveKit deployment: mints tokens and manages rooms for moot's rooms."""

    def __init__(self, settings: LiveKitSettings, redis: Redis) -> None:
        self.url = settings.url
        self._redis = redis
        self._key = settings.api_key
        self._secret = settings.api_secret
        self._token_ttl = timedelta(seconds=settings.token_ttl_seconds)
        self._empty_timeout = settings.empty_timeout_seconds
        self._timeout = settings.timeout_seconds
        self._server_url = settings.server_url
        self._api: api.LiveKitAPI | None = None
        self._receiver = api.WebhookReceiver(api.TokenVerifier(self._key, self._secret))

    async def start(self) -> None:
        # failover=False: region failover is a LiveKit Cloud feature; a self-hosted server
        # is one origin, and a retry loop would only stretch our own timeout.
        self._api = api.LiveKitAPI(
            self._server_url,
            self._key,
            self._secret,
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            failover=False,
        )

    async def stop(self) -> None:
        if self._api is not None:
            await self._api.aclose()
            self._api = None

    @property
    def _rooms(self) -> RoomService:
        assert self._api is not None, "LiveKit.start() was not awaited"
        return self._api.room

    # -- tokens --------------------------------------------------------------------------

    def token(self, *, room_name: str, identity: str, name: str, role: str) -> str:
        """A join token for one room only; hosts get `roomAdmin` there."""
        grants = api.VideoGrants(
            room_join=True,
            room=room_name,
            room_admin=role == "host",
            can_publish=True,
            can_subscribe=True,
            can_publish_data=True,
        )
        return (
            api.AccessToken(self._key, self._secret)
            .with_identity(identity)
            .with_name(name)
            .with_metadata(json.dumps({"role": role}))
            .with_grants(grants)
            .with_ttl(self._token_ttl)
            .to_jwt()
        )

    @property
    def token_ttl_seconds(self) -> int:
        return int(self._token_ttl.total_seconds())

    # -- room service --------------------------------------------------------------------

    async def ensure_room(self, room_name: str, max_participants: int) -> None:
        """Create the LiveKit room unless it was created recently (module docstring)."""
        claim = _room_key(room_name)
        if not await self._redis.set(claim, b"1", nx=True, ex=max(1, self._empty_timeout // 2)):
            return
        request = api.CreateRoomRequest(
            name=room_name, max_participants=max_participants, empty_timeout=self._empty_timeout
        )
        try:
            await self._call("create_room", self._rooms.create_room(request))
        except BaseException:
            await self._redis.delete(claim)  # not created: the next join tries again
            raise

    async def forget_room(self, room_name: str) -> None:
        """LiveKit closed the room (or is about to): the next join creates it again."""
        await self._redis.delete(_room_key(room_name))

    async def delete_room(self, room_name: str) -> None:
        await self.forget_room(room_name)
        request = api.DeleteRoomRequest(room=room_name)
        await self._call("delete_room", self._rooms.delete_room(request), missing_ok=True)

    async def remove_participant(self, room_name: str, identity: str) -> None:
        request = api.RoomParticipantIdentity(room=room_name, identity=identity)
        await self._call(
            "remove_participant", self._rooms.remove_participant(request), missing_ok=True
        )

    async def mute(self, room_name: str, identity: str, kind: TrackKind) -> list[str]:
        """Mute the participant's published tracks of one kind; the muted track sids."""
        who = api.RoomParticipantIdentity(room=room_name, identity=identity)
        info = await self._call(
            "get_participant", self._rooms.get_participant(who), missing_ok=True
        )
        if info is None:
            raise MootError("media_not_connected")
        wanted = _TRACK_TYPES[kind]
        muted: list[str] = []
        for track in info.tracks:
            if track.type in wanted and not track.muted:
                request = api.MuteRoomTrackRequest(
                    room=room_name, identity=identity, track_sid=track.sid, muted=True
                )
                await self._call("mute_published_track", self._rooms.mute_published_track(request))
                muted.append(track.sid)
        return muted

    async def _call(self, what: str, call: Awaitable[T], *, missing_ok: bool = False) -> T | None:
        try:
            async with asyncio.timeout(self._timeout):
                return await call
        except api.ServerError as exc:
            if missing_ok and exc.code == api.ServerErrorCode.NOT_FOUND:
                return None
            log.warning(
                "livekit_error", call=what, code=exc.code, status=exc.status, message=exc.message
            )
            if exc.status >= 500 or exc.code == api.ServerErrorCode.UNAVAILABLE:
                raise MootError("media_unavailable") from None
            raise MootError("media_server_error", livekit_code=exc.code) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.warning("livekit_unreachable", call=what, error=type(exc).__name__)
            raise MootError("media_unavailable") from None

    # -- webhooks ------------------------------------------------------------------------

    def receive_webhook(self, body: bytes, authorization: str) -> VerifiedWebhook:
        """Verify a webhook's signed token and body hash; parse the event."""
        token = authorization.removeprefix("Bearer ").strip()
        if not token:
            raise WebhookRejected("no Authorization header")
        try:
            text = body.decode()
        except UnicodeDecodeError:
            raise WebhookRejected("body is not UTF-8") from None
        try:
            event = self._receiver.receive(text, token)
        except ParseError:
            raise  # signed but unparseable: the caller answers 400
        except Exception as exc:  # jwt errors, "hash mismatch", missing sha256 claim
            raise WebhookRejected(str(exc) or type(exc).__name__) from None
        return VerifiedWebhook(event, _expiry(token) + _LEEWAY_SECONDS)


def _expiry(token: str) -> float:
    """The `exp` claim of a JWT whose signature has already been verified (the verifier
    requires the claim, so it is there)."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return float(claims["exp"])

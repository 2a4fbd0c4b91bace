"""A LiveKit server stand-in on a loopback socket: the Twirp RoomService and webhooks.

It speaks what livekit-api's client sends and expects: `POST /twirp/livekit.RoomService/<M>`
with a protobuf body and a `Bearer` access token whose video grant must allow the call, and
answers with a protobuf message, or with Twirp's JSON error (`{"code", "msg"}`) and its HTTP
status. It keeps rooms and connected participants in memory so tests can look at what moot
asked for, and it signs webhooks the way LiveKit does (a token carrying the body's sha256).
"""

from __future__ import annotations

import base64
import hashlib
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web
from google.protobuf.json_format import MessageToJson
from google.protobuf.message import Message
from livekit import api

KEY = "APIstandinkey"
SECRET = "standin-secret-that-is-long-enough-for-hs256"


@dataclass
class Call:
    method: str
    request: Any
    grants: api.VideoGrants


@dataclass
class StandIn:
    url: str = ""
    rooms: dict[str, api.Room] = field(default_factory=dict)
    participants: dict[tuple[str, str], api.ParticipantInfo] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    fail_with: tuple[int, str] | None = None  # (HTTP status, Twirp code) for every call

    def methods(self) -> list[str]:
        return [call.method for call in self.calls]

    def connect(self, room: str, identity: str, *kinds: api.TrackType) -> api.ParticipantInfo:
        """Pretend a participant's media joined `room` with tracks of these TrackTypes."""
        info = api.ParticipantInfo(
            sid=f"PA_{identity[:8]}_{len(self.participants)}",
            identity=identity,
            state=api.ParticipantInfo.State.ACTIVE,
            joined_at=int(time.time()),
            tracks=[
                api.TrackInfo(sid=f"TR_{n}_{identity[:6]}", type=kind, muted=False)
                for n, kind in enumerate(kinds)
            ],
        )
        self.participants[(room, identity)] = info
        return info

    def webhook(self, event: api.WebhookEvent, *, secret: str = SECRET) -> tuple[str, str]:
        """(body, Authorization header) as LiveKit's webhook notifier sends them."""
        body = MessageToJson(event)
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        token = api.AccessToken(KEY, secret).with_sha256(digest).to_jwt()
        return body, token


def _twirp_error(status: int, code: str, msg: str) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=status)


class _Handler:
    def __init__(self, state: StandIn) -> None:
        self.state = state
        self.verifier = api.TokenVerifier(KEY, SECRET)

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.content_type != "application/protobuf":
            return _twirp_error(400, "malformed", "expected application/protobuf")
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return _twirp_error(401, "unauthenticated", "missing bearer token")
        try:
            grants = self.verifier.verify(auth.removeprefix("Bearer ")).video
        except Exception as exc:
            return _twirp_error(401, "unauthenticated", f"invalid token: {exc}")
        assert grants is not None
        route = _ROUTES.get(method)
        if route is None:
            return _twirp_error(404, "bad_route", f"no method {method}")
        request_type, handle = route
        body = request_type.FromString(await request.read())
        self.state.calls.append(Call(method, body, grants))
        if self.state.fail_with is not None:
            status, code = self.state.fail_with
            return _twirp_error(status, code, "stand-in told to fail")
        result = handle(self.state, body, grants)
        if isinstance(result, web.Response):
            return result
        return web.Response(body=result.SerializeToString(), content_type="application/protobuf")


def _create_room(state: StandIn, req: api.CreateRoomRequest, grants: api.VideoGrants) -> Any:
    if not grants.room_create:
        return _twirp_error(403, "permission_denied", "roomCreate grant required")
    room = state.rooms.get(req.name)
    if room is None:
        room = api.Room(
            sid=f"RM_{len(state.rooms)}",
            name=req.name,
            empty_timeout=req.empty_timeout,
            max_participants=req.max_participants,
            creation_time=int(time.time()),
        )
        state.rooms[req.name] = room
    return room


def _delete_room(state: StandIn, req: api.DeleteRoomRequest, grants: api.VideoGrants) -> Any:
    if not grants.room_create:
        return _twirp_error(403, "permission_denied", "roomCreate grant required")
    if state.rooms.pop(req.room, None) is None:
        return _twirp_error(404, "not_found", "requested room does not exist")
    for key in [k for k in state.participants if k[0] == req.room]:
        del state.participants[key]
    return api.DeleteRoomResponse()


def _admin(grants: api.VideoGrants, room: str) -> web.Response | None:
    if not grants.room_admin or grants.room != room:
        return _twirp_error(403, "permission_denied", "roomAdmin grant for this room required")
    return None


def _get_participant(
    state: StandIn, req: api.RoomParticipantIdentity, grants: api.VideoGrants
) -> Any:
    if (denied := _admin(grants, req.room)) is not None:
        return denied
    info = state.participants.get((req.room, req.identity))
    if info is None:
        return _twirp_error(404, "not_found", "participant not found")
    return info


def _remove_participant(
    state: StandIn, req: api.RoomParticipantIdentity, grants: api.VideoGrants
) -> Any:
    if (denied := _admin(grants, req.room)) is not None:
        return denied
    if state.participants.pop((req.room, req.identity), None) is None:
        return _twirp_error(404, "not_found", "participant not found")
    return api.RemoveParticipantResponse()


def _mute(state: StandIn, req: api.MuteRoomTrackRequest, grants: api.VideoGrants) -> Any:
    if (denied := _admin(grants, req.room)) is not None:
        return denied
    info = state.participants.get((req.room, req.identity))
    if info is None:
        return _twirp_error(404, "not_found", "participant not found")
    for track in info.tracks:
        if track.sid == req.track_sid:
            track.muted = req.muted
            return api.MuteRoomTrackResponse(track=track)
    return _twirp_error(404, "not_found", "track not found")


_ROUTES: dict[str, tuple[type[Message], Any]] = {
    "CreateRoom": (api.CreateRoomRequest, _create_room),
    "DeleteRoom": (api.DeleteRoomRequest, _delete_room),
    "GetParticipant": (api.RoomParticipantIdentity, _get_participant),
    "RemoveParticipant": (api.RoomParticipantIdentity, _remove_participant),
    "MutePublishedTrack": (api.MuteRoomTrackRequest, _mute),
}


class LiveKitStandIn:
    """`async with LiveKitStandIn() as livekit:` serves on a free loopback port."""

    def __init__(self) -> None:
        self.state = StandIn()
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> StandIn:
        app = web.Application()
        app.router.add_post("/twirp/livekit.RoomService/{method}", _Handler(self.state).handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.state.url = f"ws://127.0.0.1:{port}"
        return self.state

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


async def post_webhook(http: httpx.AsyncClient, body: str, authorization: str) -> httpx.Response:
    return await http.post(
        "/api/v1/livekit/webhook",
        content=body.encode(),
        headers={"Authorization": authorization, "Content-Type": "application/webhook+json"},
    )

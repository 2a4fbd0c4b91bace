"""Media payloads: how a participant's client connects its audio and video."""

from __future__ import annotations

import uuid
from typing import Literal

import msgspec

from moot.media.ice import IceServer

MediaMode = Literal["livekit", "mesh"]
TrackKind = Literal["audio", "video", "all"]


class MediaAccess(msgspec.Struct, kw_only=True):
    """LiveKit mode: connect to `url` with `token`. Mesh mode: no token; signal over the room
    WebSocket, with at most `mesh_max_participants` people in the room."""

    mode: MediaMode
    url: str | None = None
    token: str | None = None
    expires_in: int | None = None
    room_name: str | None = None
    mesh_max_participants: int | None = None


class MuteParticipant(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: TrackKind = "audio"


class MuteResult(msgspec.Struct, kw_only=True):
    """LiveKit mode mutes on the server (`muted_tracks`); mesh mode asks the client to mute
    itself through a `media.mute_requested` event (`requested`)."""

    mode: MediaMode
    muted_tracks: list[str]
    requested: bool


class WebRTCConfig(msgspec.Struct, kw_only=True):
    """Pass `iceServers` to RTCPeerConnection; fetch again before `ttl_seconds` run out."""

    mode: MediaMode
    ice_servers: list[IceServer] = msgspec.field(name="iceServers")  # RTCConfiguration's name
    ttl_seconds: int
    fallback_count: int
    mesh_max_participants: int | None


class WebhookResult(msgspec.Struct, kw_only=True):
    event: str
    applied: bool


class MuteRequested(msgspec.Struct, kw_only=True, tag="media.mute_requested", tag_field="type"):
    """Mesh mode: the host asks a participant's client to mute itself (an addressed event)."""

    to: uuid.UUID
    kind: TrackKind
    by: uuid.UUID


class MediaSessionEvent(msgspec.Struct, kw_only=True, frozen=True):
    """A LiveKit webhook that concerns one of our participants: their media session `sid`
    in LiveKit room `room_name` started (`joined`) or ended. `delivery` names the webhook
    delivery, claimed so that a replay of it is not applied again."""

    joined: bool
    room_name: str
    participant_id: uuid.UUID
    sid: str
    delivery: str

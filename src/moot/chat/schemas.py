"""Chat messages and the room event protocol spoken on /ws/chat/{room}."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from moot.rooms.schemas import ParticipantView

MessageId = Annotated[str, msgspec.Meta(pattern=r"^\d{13}-[0-9a-f]{8}$")]


class ChatMessage(msgspec.Struct, kw_only=True):
    id: str
    room_id: uuid.UUID
    participant_id: uuid.UUID | None
    display_name: str
    message_type: Literal["user", "system"]
    content: str
    created_at: datetime
    edited_at: datetime | None = None


class SendMessage(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    content: str


class MessagePage(msgspec.Struct, kw_only=True):
    items: list[ChatMessage]
    has_more: bool


# -- events: published on the room's channel, pushed to every socket in the room ----------


class MessageCreated(msgspec.Struct, kw_only=True, tag="message.created", tag_field="type"):
    message: ChatMessage


class MessageEdited(msgspec.Struct, kw_only=True, tag="message.edited", tag_field="type"):
    message: ChatMessage


class MessageDeleted(msgspec.Struct, kw_only=True, tag="message.deleted", tag_field="type"):
    message_id: str
    deleted_by: uuid.UUID


class ParticipantJoined(msgspec.Struct, kw_only=True, tag="participant.joined", tag_field="type"):
    participant: ParticipantView


class ParticipantUpdated(
    msgspec.Struct, kw_only=True, tag="participant.updated", tag_field="type"
):
    """Someone already in the room changed their display name (they joined again with it)."""

    participant: ParticipantView


class ParticipantLeft(msgspec.Struct, kw_only=True, tag="participant.left", tag_field="type"):
    participant_id: uuid.UUID
    display_name: str
    reason: Literal["left", "removed", "room_ended"]


class HostChanged(msgspec.Struct, kw_only=True, tag="host.changed", tag_field="type"):
    host: ParticipantView


class RoomUpdated(msgspec.Struct, kw_only=True, tag="room.updated", tag_field="type"):
    """The host changed a room setting everyone's client shows (today: the lock)."""

    locked: bool


class RoomEnded(msgspec.Struct, kw_only=True, tag="room.ended", tag_field="type"):
    reason: str


class Typing(msgspec.Struct, kw_only=True, tag="typing", tag_field="type"):
    participant_id: uuid.UUID
    display_name: str


class TranscriptionUpdated(
    msgspec.Struct, kw_only=True, tag="transcription.updated", tag_field="type"
):
    status: Literal["idle", "active"]
    host_id: uuid.UUID | None


class _Transcript(msgspec.Struct, kw_only=True):
    utterance_id: str
    participant_id: uuid.UUID
    text: str
    start: float  # seconds since the room was created
    end: float
    language: str | None


class TranscriptPartial(_Transcript, tag="transcript.partial", tag_field="type"):
    """Replaced in place by the next partial, or the final, of the same utterance."""


class TranscriptFinal(_Transcript, tag="transcript.final", tag_field="type"):
    pass


# -- addressed events: relayed to one participant's sockets only, never stored or replayed --

SDP = Annotated[str, msgspec.Meta(min_length=1, max_length=100_000)]


class IceCandidate(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """RTCIceCandidateInit as the browser gives it (sdpMid, sdpMLineIndex, usernameFragment)."""

    candidate: Annotated[str, msgspec.Meta(max_length=2_000)]
    sdp_mid: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    sdp_m_line_index: Annotated[int, msgspec.Meta(ge=0, le=1024)] | None = None
    username_fragment: Annotated[str, msgspec.Meta(max_length=256)] | None = None


class _SessionDescription(msgspec.Struct, kw_only=True):
    from_: uuid.UUID = msgspec.field(name="from")
    to: uuid.UUID
    sdp: str


class SignalOffer(_SessionDescription, tag="signal.offer", tag_field="type"):
    pass


class SignalAnswer(_SessionDescription, tag="signal.answer", tag_field="type"):
    pass


class SignalIce(msgspec.Struct, kw_only=True, tag="signal.ice", tag_field="type"):
    from_: uuid.UUID = msgspec.field(name="from")
    to: uuid.UUID
    candidate: IceCandidate | None  # None: this peer has gathered all its candidates


class MuteRequested(msgspec.Struct, kw_only=True, tag="media.mute_requested", tag_field="type"):
    """Mesh mode: the host asks a participant's client to mute itself."""

    to: uuid.UUID
    kind: Literal["audio", "video", "all"]
    by: uuid.UUID


Signal = SignalOffer | SignalAnswer | SignalIce


RoomEvent = (
    MessageCreated
    | MessageEdited
    | MessageDeleted
    | ParticipantJoined
    | ParticipantUpdated
    | ParticipantLeft
    | HostChanged
    | RoomUpdated
    | RoomEnded
    | Typing
    | TranscriptionUpdated
    | TranscriptFinal
)


class EventHead(msgspec.Struct):
    """The part of an event a socket needs to decide whether it must close."""

    type: str
    participant_id: uuid.UUID | None = None
    reason: str | None = None
    to: uuid.UUID | None = None  # set on addressed events (signalling, mute requests)


# -- frames a client sends -----------------------------------------------------------------

ClientContent = Annotated[str, msgspec.Meta(max_length=20_000)]


class ClientPing(msgspec.Struct, tag="ping", tag_field="type"):
    pass


class ClientTyping(msgspec.Struct, tag="typing", tag_field="type"):
    pass


class ClientSend(msgspec.Struct, tag="message.send", tag_field="type"):
    content: ClientContent
    client_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class _ClientDescription(msgspec.Struct, kw_only=True):
    to: uuid.UUID
    sdp: SDP


class ClientOffer(_ClientDescription, tag="signal.offer", tag_field="type"):
    pass


class ClientAnswer(_ClientDescription, tag="signal.answer", tag_field="type"):
    pass


class ClientIce(msgspec.Struct, kw_only=True, tag="signal.ice", tag_field="type"):
    to: uuid.UUID
    candidate: IceCandidate | None = None


ClientSignal = ClientOffer | ClientAnswer | ClientIce
ClientFrame = ClientPing | ClientTyping | ClientSend | ClientOffer | ClientAnswer | ClientIce

"""Peer-to-peer signalling: offers, answers and ICE candidates relayed over a topic to the one
subscriber they are addressed to (mesh media). Never stored, never replayed."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec

from moot.realtime.log import TopicLog

SDP = Annotated[str, msgspec.Meta(min_length=1, max_length=100_000)]


class IceCandidate(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """RTCIceCandidateInit as the browser gives it (sdpMid, sdpMLineIndex, usernameFragment)."""

    candidate: Annotated[str, msgspec.Meta(max_length=2_000)]
    sdp_mid: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    sdp_m_line_index: Annotated[int, msgspec.Meta(ge=0, le=1024)] | None = None
    username_fragment: Annotated[str, msgspec.Meta(max_length=256)] | None = None


# -- what a client sends ---------------------------------------------------------------------


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


# -- what the addressee receives -------------------------------------------------------------


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


Signal = SignalOffer | SignalAnswer | SignalIce
_encode = msgspec.json.Encoder().encode


async def relay(log: TopicLog, topic: str, sender: uuid.UUID, frame: ClientSignal) -> None:
    """Pass a client's signal on to its addressee's sockets on `topic`."""
    event: Signal
    if isinstance(frame, ClientOffer):
        event = SignalOffer(from_=sender, to=frame.to, sdp=frame.sdp)
    elif isinstance(frame, ClientAnswer):
        event = SignalAnswer(from_=sender, to=frame.to, sdp=frame.sdp)
    else:
        event = SignalIce(from_=sender, to=frame.to, candidate=frame.candidate)
    await log.publish_ephemeral(topic, _encode(event))

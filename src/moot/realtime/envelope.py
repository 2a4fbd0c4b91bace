"""The event envelope: how an event travels through Redis and how it reaches a socket.

On the pub/sub channel an event is `<cursor>|<event JSON>` (cursor empty for ephemeral events
such as typing or signalling). On a socket it is the event's JSON with the cursor (and, on
the gateway, the topic) put first, spliced as bytes: the event is never decoded and encoded
again per socket.
"""

from __future__ import annotations

import uuid

import msgspec

from moot.errors import ERRORS, ErrorCode


class EventHead(msgspec.Struct):
    """The part of an event the hub reads: its type, whom it concerns, whom it is for."""

    type: str
    participant_id: uuid.UUID | None = None
    reason: str | None = None
    to: uuid.UUID | None = None  # set on addressed events (signalling, mute requests)


decode_head = msgspec.json.Decoder(EventHead).decode
encode = msgspec.json.Encoder().encode


def frame(event: bytes, cursor: str | None, topic: str | None = None) -> str:
    """The socket frame of an event (a JSON object), with cursor and topic spliced in."""
    head = ""
    if topic is not None:
        head += f'"topic":"{topic}",'
    if cursor:
        head += f'"cursor":"{cursor}",'
    if not head:
        return event.decode()
    return f"{{{head}{event[1:].decode()}"


def control(kind: str, **fields: object) -> str:
    """A frame the gateway itself sends: subscribed, unsubscribed, error, ready, pong."""
    return encode({"type": kind, **fields}).decode()


def error(code: ErrorCode, message: str | None = None, **details: object) -> str:
    """An error event; without a message, the code's own (errors.py)."""
    return control("error", code=code, message=message or ERRORS[code][1], **details)

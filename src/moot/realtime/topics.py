"""Topics: what a gateway socket subscribes to, and the Redis names that carry each one.

A topic is `<kind>:<id>`: `room:<uuid>` today; `channel:`, `dm:`, `space:` and `user:` next.
Each topic has a pub/sub channel (`<topic>:events`, every instance with a subscriber listens)
and, if its events are kept for replay, a stream (`<topic>:log`, whose ids are the cursors).
"""

from __future__ import annotations

import uuid
from typing import Literal

TopicKindName = Literal["room", "channel", "dm", "space", "user"]
KINDS: frozenset[str] = frozenset(("room", "channel", "dm", "space", "user"))


def topic(kind: TopicKindName, topic_id: uuid.UUID) -> str:
    return f"{kind}:{topic_id}"


def split(name: str) -> tuple[str, str]:
    """(kind, id) of a topic name; ValueError if it names no kind we know."""
    kind, sep, topic_id = name.partition(":")
    if not sep or kind not in KINDS or not topic_id or len(name) > 128:
        raise ValueError(f"not a topic: {name[:128]!r}")
    return kind, topic_id


def channel_key(name: str) -> str:
    return f"{name}:events"


def stream_key(name: str) -> str:
    return f"{name}:log"


def cursor_key(cursor: str) -> tuple[int, int]:
    """Order stream ids ("ms-seq") numerically; ValueError if it is not one."""
    ms, _, seq = cursor.partition("-")
    return int(ms), int(seq or 0)

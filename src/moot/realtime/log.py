"""A topic's event log in Redis: publish (kept for replay, or ephemeral), replay, last cursor.

Durable events go to the topic's stream (its ids are the cursors) and its channel in one
script; ephemeral ones (typing, partial transcripts, signalling) only to the channel. Domains
that must write their own keys in the same atomic step (chat: message, index and event) build
on `EVENT_FN`, the Lua function used here.
"""

from __future__ import annotations

from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from moot.realtime.topics import channel_key, cursor_key, stream_key

# Append an event to a topic's stream, publish it with its cursor, refresh the TTL of every
# key given. KEYS: stream, then keys whose TTL to refresh; ARGV: event, ttl, kept, channel.
EVENT_FN = """
local function event(keys, event_json, ttl, kept, channel)
  local cursor = redis.call('XADD', keys[1], 'MAXLEN', '~', kept, '*', 'e', event_json)
  redis.call('PUBLISH', channel, cursor .. '|' .. event_json)
  for i = 1, #keys do redis.call('EXPIRE', keys[i], ttl) end
  return cursor
end
"""
_EVENT = EVENT_FN + "return event(KEYS, ARGV[1], ARGV[2], ARGV[3], ARGV[4])"


class _Typed(msgspec.Struct):
    type: str = ""


_event_type = msgspec.json.Decoder(_Typed)


class TopicLog:
    def __init__(self, redis: Redis, ttl_seconds: int, events_kept: int) -> None:
        self._redis = redis
        self.ttl_seconds = ttl_seconds
        self.events_kept = events_kept
        self._event = redis.register_script(_EVENT)

    async def publish(self, topic: str, event: bytes) -> str:
        """Keep the event for replay and deliver it; its cursor."""
        cursor = await self._event(
            keys=[stream_key(topic)],
            args=[event, self.ttl_seconds, self.events_kept, channel_key(topic)],
        )
        return text(cursor)

    async def publish_ephemeral(self, topic: str, event: bytes) -> None:
        """Deliver the event to whoever is subscribed now; never replayed."""
        await self._redis.publish(channel_key(topic), b"|" + event)

    async def events_since(self, topic: str, cursor: str) -> list[tuple[str, bytes]] | None:
        """Durable events after `cursor`, oldest first; None if some were already trimmed or
        expired (the client must reload instead of replaying)."""
        key = stream_key(topic)
        try:
            info = await self._redis.xinfo_stream(key)
        except ResponseError:  # no stream: nothing happened yet, or it all expired
            return None if cursor_key(cursor) > (0, 0) else []
        # Entries older than the first one kept were trimmed (MAXLEN). If the client's cursor
        # is before the first kept entry, it may have missed some of them: it must resync.
        first = info.get("first-entry")
        was_trimmed = int(info.get("entries-added", 0)) > int(info.get("length", 0))
        if was_trimmed and first and cursor_key(text(first[0])) > cursor_key(cursor):
            return None
        rows: Any = await self._redis.xrange(key, f"({cursor}", "+")
        return [(text(event_id), fields[b"e"]) for event_id, fields in rows]

    async def forget(self, topic: str, event_types: frozenset[str]) -> int:
        """Delete the kept events of these types from the topic's replay log (a domain erasing
        what it had published); how many. A client whose cursor is older than the first event
        left is told to resync, as after a trim."""
        key = stream_key(topic)
        rows: Any = await self._redis.xrange(key, "-", "+")
        doomed = [
            event_id
            for event_id, fields in rows
            if _event_type.decode(fields[b"e"]).type in event_types
        ]
        if doomed:
            await self._redis.xdel(key, *doomed)
        return len(doomed)

    async def last_cursor(self, topic: str) -> str:
        last: Any = await self._redis.xrevrange(stream_key(topic), "+", "-", count=1)
        return text(last[0][0]) if last else "0-0"


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

"""Redis keys and commands for a room's chat; nothing else.

Per room (all expire together, TTL refreshed on every write):
  chat:room:{id}:messages   sorted set, score = ms timestamp, member = message JSON
  chat:room:{id}:index      hash, message id -> current JSON (edits and deletes find it here)
and the room topic's log and channel (realtime/topics.py), where every change is an event.

Every write that changes history is one Lua script, so the message, its index entry, the
event and the publish happen together or not at all, and an edit racing a delete is a
compare-and-swap that exactly one of them wins.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from redis.asyncio import Redis

from moot.realtime.log import EVENT_FN, TopicLog, text
from moot.realtime.topics import channel_key, stream_key

# A message stored and announced: KEYS messages, index, stream.
_SEND_FN = (
    EVENT_FN
    + """
local function send(messages, index, stream, id, score, message, created, ttl, kept, channel)
  redis.call('ZADD', messages, score, message)
  redis.call('HSET', index, id, message)
  return event({stream, messages, index}, created, ttl, kept, channel)
end
"""
)
_SEND = (
    _SEND_FN
    + """
local id, score, message, created, ttl, kept, channel = unpack(ARGV)
return send(KEYS[1], KEYS[2], KEYS[3], id, score, message, created, ttl, kept, channel)
"""
)

# Compare-and-swap on the index: the caller read `expected` and decided the change was
# allowed; if someone changed the message since, nothing happens and the caller re-reads.
# An empty replacement deletes the message.
_REPLACE = (
    EVENT_FN
    + """
local messages, index, stream = KEYS[1], KEYS[2], KEYS[3]
local id, expected, replacement, score, changed, ttl, kept, channel = unpack(ARGV)
if redis.call('HGET', index, id) ~= expected then return false end
redis.call('ZREM', messages, expected)
if replacement == '' then
  redis.call('HDEL', index, id)
else
  redis.call('ZADD', messages, score, replacement)
  redis.call('HSET', index, id, replacement)
end
return event({stream, messages, index}, changed, ttl, kept, channel)
"""
)

# A room event, then the system message that tells of it: one script, one round trip.
_EVENT_THEN_SEND = (
    _SEND_FN
    + """
local id, score, message, created, ttl, kept, channel, room_event = unpack(ARGV)
event({KEYS[3]}, room_event, ttl, kept, channel)
return send(KEYS[1], KEYS[2], KEYS[3], id, score, message, created, ttl, kept, channel)
"""
)


def messages_key(room_id: uuid.UUID) -> str:
    return f"chat:room:{room_id}:messages"


def index_key(room_id: uuid.UUID) -> str:
    return f"chat:room:{room_id}:index"


# What a message write hands the store: id, score (ms), message JSON, message.created JSON.
StoredMessage = tuple[str, int, bytes, bytes]


class ChatStore:
    def __init__(self, redis: Redis, log: TopicLog) -> None:
        self._redis = redis
        self._log = log
        self._send = redis.register_script(_SEND)
        self._replace = redis.register_script(_REPLACE)
        self._event_then_send = redis.register_script(_EVENT_THEN_SEND)

    def _keys(self, room_id: uuid.UUID, topic: str) -> list[str]:
        return [messages_key(room_id), index_key(room_id), stream_key(topic)]

    def _tail(self, topic: str) -> list[Any]:
        return [self._log.ttl_seconds, self._log.events_kept, channel_key(topic)]

    async def add_message(self, room_id: uuid.UUID, topic: str, message: StoredMessage) -> str:
        keys = self._keys(room_id, topic)
        return text(await self._send(keys=keys, args=[*message, *self._tail(topic)]))

    async def add_after_event(
        self, room_id: uuid.UUID, topic: str, event: bytes, message: StoredMessage
    ) -> str:
        """A topic event and the system message that tells of it, in one script. Not a
        pipeline of two scripts: redis-py asks SCRIPT EXISTS before every pipeline that holds
        scripts, which is a round trip of its own."""
        keys = self._keys(room_id, topic)
        args = [*message, *self._tail(topic), event]
        return text(await self._event_then_send(keys=keys, args=args))

    async def delete_room(self, room_id: uuid.UUID, topic: str) -> None:
        """Every key of a room's chat, and the topic's event log that carries it."""
        await self._redis.delete(*self._keys(room_id, topic))

    async def get_message(self, room_id: uuid.UUID, message_id: str) -> bytes | None:
        raw: Any = await self._redis.hget(index_key(room_id), message_id)
        return cast(bytes | None, raw)

    async def replace_message(
        self,
        room_id: uuid.UUID,
        topic: str,
        message_id: str,
        expected: bytes,
        replacement: bytes | None,
        score: int,
        event: bytes,
    ) -> str | None:
        """Swap (or, with replacement None, delete) a message if it is still `expected`."""
        args = [message_id, expected, replacement or b"", score, event, *self._tail(topic)]
        cursor = await self._replace(keys=self._keys(room_id, topic), args=args)
        return text(cursor) if cursor else None

    async def all_messages(self, room_id: uuid.UUID) -> list[bytes]:
        rows: Any = await self._redis.hvals(index_key(room_id))
        return cast(list[bytes], rows)

    async def latest(self, room_id: uuid.UUID, count: int) -> list[tuple[bytes, float]]:
        rows: Any = await self._redis.zrevrange(
            messages_key(room_id), 0, count - 1, withscores=True
        )
        return list(reversed(rows))

    async def before(self, room_id: uuid.UUID, score: int, count: int) -> list[tuple[bytes, float]]:
        rows: Any = await self._redis.zrevrangebyscore(
            messages_key(room_id), score, "-inf", start=0, num=count, withscores=True
        )
        return list(reversed(rows))

    async def after(self, room_id: uuid.UUID, score: int, count: int) -> list[tuple[bytes, float]]:
        rows: Any = await self._redis.zrangebyscore(
            messages_key(room_id), score, "+inf", start=0, num=count, withscores=True
        )
        return cast(list[tuple[bytes, float]], rows)

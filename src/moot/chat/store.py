"""Redis keys and commands for a room's chat and events; nothing else.

Per room (all expire together, TTL refreshed on every write):
  chat:room:{id}:messages   sorted set, score = ms timestamp, member = message JSON
  chat:room:{id}:index      hash, message id -> current JSON (edits and deletes find it here)
  chat:room:{id}:events     stream of durable events; its ids are the replay cursors
  room:{id}:participants    hash, participant id -> participant JSON (who is in the room)
  room:{id}:meta            hash, room facts (title, code, status)
and the pub/sub channel room:{id}:events, whose payloads are `<cursor>|<event JSON>`
(cursor empty for ephemeral events such as typing).

Every write that changes history is one Lua script, so the message, its index entry, the
event and the publish happen together or not at all, and an edit racing a delete is a
compare-and-swap that exactly one of them wins.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

# Scripts are built from Lua functions so that two of them can run as one script (one round
# trip, one atomic step): each function takes its own keys and arguments.
_SEND_FN = """
local function send(keys, argv)
  redis.call('ZADD', keys[1], argv[2], argv[3])
  redis.call('HSET', keys[2], argv[1], argv[3])
  local cursor = redis.call('XADD', keys[3], 'MAXLEN', '~', argv[6], '*', 'e', argv[4])
  redis.call('PUBLISH', argv[7], cursor .. '|' .. argv[4])
  for i = 1, #keys do redis.call('EXPIRE', keys[i], argv[5]) end
  return cursor
end
"""
_SEND = _SEND_FN + "return send(KEYS, ARGV)"

# Compare-and-swap on the index: the caller read `expected` and decided the change was
# allowed; if someone changed the message since, nothing happens and the caller re-reads.
_REPLACE = """
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return false end
redis.call('ZREM', KEYS[1], ARGV[2])
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
end
local cursor = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], '*', 'e', ARGV[5])
redis.call('PUBLISH', ARGV[8], cursor .. '|' .. ARGV[5])
for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ARGV[6]) end
return cursor
"""

# A durable room event, optionally updating the participants hash in the same step.
_EVENT_FN = """
local function event(keys, argv)
  if argv[5] == 'set' then
    redis.call('HSET', keys[2], argv[6], argv[7])
  elseif argv[5] == 'del' then
    redis.call('HDEL', keys[2], argv[6])
  elseif argv[5] == 'clear' then
    redis.call('DEL', keys[2])
  end
  local cursor = redis.call('XADD', keys[1], 'MAXLEN', '~', argv[3], '*', 'e', argv[1])
  redis.call('PUBLISH', argv[4], cursor .. '|' .. argv[1])
  for i = 1, #keys do redis.call('EXPIRE', keys[i], argv[2]) end
  return cursor
end
"""
_EVENT = _EVENT_FN + "return event(KEYS, ARGV)"

# An event, then the system message that tells of it (KEYS: room_keys; ARGV: the event's 7
# arguments, then the message's 7).
_EVENT_THEN_SEND = (
    _EVENT_FN
    + _SEND_FN
    + """
event({KEYS[3], KEYS[4], KEYS[5]}, {unpack(ARGV, 1, 7)})
return send(KEYS, {unpack(ARGV, 8, 14)})
"""
)


def messages_key(room_id: uuid.UUID) -> str:
    return f"chat:room:{room_id}:messages"


def index_key(room_id: uuid.UUID) -> str:
    return f"chat:room:{room_id}:index"


def events_key(room_id: uuid.UUID) -> str:
    return f"chat:room:{room_id}:events"


def participants_key(room_id: uuid.UUID) -> str:
    return f"room:{room_id}:participants"


def meta_key(room_id: uuid.UUID) -> str:
    return f"room:{room_id}:meta"


def channel(room_id: uuid.UUID) -> str:
    return f"room:{room_id}:events"


def room_keys(room_id: uuid.UUID) -> list[str]:
    return [
        messages_key(room_id),
        index_key(room_id),
        events_key(room_id),
        participants_key(room_id),
        meta_key(room_id),
    ]


def cursor_key(cursor: str) -> tuple[int, int]:
    """Order stream ids ("ms-seq") numerically; raise ValueError if it is not one."""
    ms, _, seq = cursor.partition("-")
    return int(ms), int(seq or 0)


class ChatStore:
    def __init__(self, redis: Redis, ttl_seconds: int, events_kept: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._events_kept = events_kept
        self._send = redis.register_script(_SEND)
        self._replace = redis.register_script(_REPLACE)
        self._event = redis.register_script(_EVENT)
        self._event_then_send = redis.register_script(_EVENT_THEN_SEND)

    def _send_args(
        self, room_id: uuid.UUID, message_id: str, score: int, message: bytes, event: bytes
    ) -> tuple[list[str], list[Any]]:
        args = [message_id, score, message, event, self._ttl, self._events_kept, channel(room_id)]
        return room_keys(room_id), args

    async def add_message(
        self, room_id: uuid.UUID, message_id: str, score: int, message: bytes, event: bytes
    ) -> str:
        keys, args = self._send_args(room_id, message_id, score, message, event)
        return _text(await self._send(keys=keys, args=args))

    async def get_message(self, room_id: uuid.UUID, message_id: str) -> bytes | None:
        raw: Any = await self._redis.hget(index_key(room_id), message_id)
        return cast(bytes | None, raw)

    async def replace_message(
        self,
        room_id: uuid.UUID,
        message_id: str,
        expected: bytes,
        replacement: bytes | None,
        score: int,
        event: bytes,
    ) -> str | None:
        """Swap (or, with replacement None, delete) a message if it is still `expected`."""
        cursor = await self._replace(
            keys=room_keys(room_id),
            args=[
                message_id,
                expected,
                replacement or b"",
                score,
                event,
                self._ttl,
                self._events_kept,
                channel(room_id),
            ],
        )
        return _text(cursor) if cursor else None

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

    def _event_args(
        self,
        room_id: uuid.UUID,
        event: bytes,
        participant_op: str,
        participant_id: uuid.UUID | None,
        participant: bytes,
    ) -> tuple[list[str], list[Any]]:
        keys = [events_key(room_id), participants_key(room_id), meta_key(room_id)]
        args = [
            event,
            self._ttl,
            self._events_kept,
            channel(room_id),
            participant_op,
            str(participant_id or ""),
            participant,
        ]
        return keys, args

    async def publish_event(
        self,
        room_id: uuid.UUID,
        event: bytes,
        *,
        participant_op: str = "",
        participant_id: uuid.UUID | None = None,
        participant: bytes = b"",
    ) -> str:
        keys, args = self._event_args(room_id, event, participant_op, participant_id, participant)
        return _text(await self._event(keys=keys, args=args))

    async def publish_event_then_message(
        self,
        room_id: uuid.UUID,
        event: bytes,
        message: tuple[str, int, bytes, bytes],
        *,
        participant_op: str = "",
        participant_id: uuid.UUID | None = None,
        participant: bytes = b"",
    ) -> None:
        """A room event and the system message that tells of it, in one script (one round
        trip; `message` is id, score, message JSON, created-event JSON).

        Not a pipeline of the two scripts: redis-py asks SCRIPT EXISTS before every
        pipeline that holds scripts, which is a round trip of its own."""
        _, event_args = self._event_args(
            room_id, event, participant_op, participant_id, participant
        )
        keys, send_args = self._send_args(room_id, *message)
        await self._event_then_send(keys=keys, args=event_args + send_args)

    async def publish_ephemeral(self, room_id: uuid.UUID, event: bytes) -> None:
        await self._redis.publish(channel(room_id), b"|" + event)

    async def events_since(self, room_id: uuid.UUID, cursor: str) -> list[tuple[str, bytes]] | None:
        """Durable events after `cursor`, oldest first; None if some were already trimmed or
        expired (the client must reload history instead of replaying)."""
        key = events_key(room_id)
        try:
            info = await self._redis.xinfo_stream(key)
        except ResponseError:  # no stream: nothing happened yet, or it all expired
            return None if cursor_key(cursor) > (0, 0) else []
        # Entries older than the first one kept were trimmed (MAXLEN). If the client's cursor
        # is before the first kept entry, it may have missed some of them: it must resync.
        # (At worst this asks a client whose cursor is the last trimmed id to reload.)
        first = info.get("first-entry")
        was_trimmed = int(info.get("entries-added", 0)) > int(info.get("length", 0))
        if was_trimmed and first and cursor_key(_text(first[0])) > cursor_key(cursor):
            return None
        rows: Any = await self._redis.xrange(key, f"({cursor}", "+")
        return [(_text(event_id), fields[b"e"]) for event_id, fields in rows]

    async def last_cursor(self, room_id: uuid.UUID) -> str:
        last: Any = await self._redis.xrevrange(events_key(room_id), "+", "-", count=1)
        return _text(last[0][0]) if last else "0-0"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

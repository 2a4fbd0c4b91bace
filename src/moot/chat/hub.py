"""Fan-out: one Redis pub/sub connection per API instance, one channel per room with local
sockets, and a bounded queue with a single writer per socket.

An event is parsed and framed once per instance, then handed to every local socket of the
room; a socket that falls `queue_size` frames behind is closed (1013) and reconnects with
its cursor, so one slow client never holds up a room.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from typing import Any

import msgspec
import structlog
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from moot.chat.schemas import EventHead
from moot.chat.store import channel, cursor_key

log = structlog.get_logger(__name__)

_decode_head = msgspec.json.Decoder(EventHead).decode

# Close codes (4000-4999 are ours; the rest are RFC 6455).
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_TRY_AGAIN = 1013
CLOSE_INVALID_CREDENTIAL = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_ROOM_ENDED = 4410


class Connection:
    """One participant's socket in one room.

    Frames wait in a bounded deque; a writer task exists only while there is something to
    send, so an idle socket costs no task (bench/: memory per idle socket)."""

    __slots__ = (
        "_closer", "_queue", "_queue_size", "_started", "_writer", "closed", "participant_id",
        "replayed_upto", "room_id", "socket",
    )

    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        room_id: uuid.UUID,
        participant_id: uuid.UUID,
        queue_size: int,
    ) -> None:
        self.socket = socket
        self.room_id = room_id
        self.participant_id = participant_id
        self._queue: deque[tuple[str, tuple[int, int] | None, tuple[int, str] | None]] = deque()
        self._queue_size = queue_size
        self.replayed_upto: tuple[int, int] = (0, 0)
        self.closed = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self._started = False

    def start(self) -> None:
        """Live frames may flow (the replay is done); send what queued up meanwhile."""
        self._started = True
        self._wake_writer()

    def push(
        self,
        frame: str,
        cursor: tuple[int, int] | None = None,
        close_after: tuple[int, str] | None = None,
    ) -> None:
        """Queue a frame; a socket too far behind is closed rather than buffered forever."""
        if self.closed.is_set():
            return
        if len(self._queue) >= self._queue_size:
            self.closed.set()
            self._queue.clear()
            self._closer = asyncio.create_task(
                self._close(CLOSE_TRY_AGAIN, "too slow; reconnect with since=")
            )
            return
        self._queue.append((frame, cursor, close_after))
        self._wake_writer()

    def close_soon(self, code: int, reason: str) -> None:
        self.push("", None, (code, reason))

    def _wake_writer(self) -> None:
        if self._started and self._queue and (self._writer is None or self._writer.done()):
            self._writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        try:
            while self._queue:
                frame, cursor, close_after = self._queue.popleft()
                if cursor is not None and cursor <= self.replayed_upto:
                    continue  # already sent during replay
                if frame:
                    await self.socket.send_text(frame)
                if close_after is not None:
                    self.closed.set()
                    self._queue.clear()
                    await self._close(*close_after)
                    return
        except (WebSocketDisconnect, OSError, RuntimeError):
            self.closed.set()  # the peer went away mid-send
        except Exception:
            self.closed.set()
            log.exception("socket_writer_failed")

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.socket.close(code=code, reason=reason)

    async def stop(self) -> None:
        self.closed.set()
        self._queue.clear()
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer


class RoomHub:
    def __init__(self, redis: Redis) -> None:
        self._pubsub: PubSub = redis.pubsub()
        self._rooms: dict[uuid.UUID, set[Connection]] = {}
        self._channels: dict[bytes, uuid.UUID] = {}
        self._subscribed: dict[bytes, asyncio.Event] = {}
        self._reader: asyncio.Task[None] | None = None
        self._instance_channel = f"moot:instance:{uuid.uuid4()}"

    async def start(self) -> None:
        # A private channel keeps the pub/sub connection subscribed while no room is. If
        # Redis is down at start-up, moot still starts (/ready says why) and the reader retries.
        try:
            await self._pubsub.subscribe(self._instance_channel)
        except (RedisError, OSError) as exc:
            log.warning("room_hub_start_without_redis", error=type(exc).__name__)
        self._reader = asyncio.create_task(self._read(), name="moot-room-hub")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        for connections in list(self._rooms.values()):
            for connection in list(connections):
                await connection.stop()
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await asyncio.wait_for(self._pubsub.aclose(), timeout=5)  # type: ignore[no-untyped-call]

    @property
    def connection_count(self) -> int:
        return sum(len(c) for c in self._rooms.values())

    async def attach(self, connection: Connection) -> None:
        """Add a socket to its room, subscribing the instance to the room's channel first."""
        room_id = connection.room_id
        name = channel(room_id).encode()
        connections = self._rooms.get(room_id)
        if connections is None:
            connections = self._rooms[room_id] = set()
            self._channels[name] = room_id
            self._subscribed[name] = asyncio.Event()
            await self._pubsub.subscribe(name)
        connections.add(connection)
        # Replay reads the event stream next; it must not run before Redis confirmed the
        # subscription, or an event published in between would reach neither path.
        await asyncio.wait_for(self._subscribed[name].wait(), timeout=5)

    async def detach(self, connection: Connection) -> None:
        room_id = connection.room_id
        connections = self._rooms.get(room_id)
        if connections is None:
            return
        connections.discard(connection)
        if not connections:
            del self._rooms[room_id]
            name = channel(room_id).encode()
            self._channels.pop(name, None)
            self._subscribed.pop(name, None)
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.unsubscribe(name)

    async def _read(self) -> None:
        while True:
            try:
                if not self._pubsub.subscribed:
                    # A private channel keeps the connection subscribed while no room is.
                    await self._pubsub.subscribe(self._instance_channel)
                async for message in self._pubsub.listen():
                    self._dispatch(message)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("room_hub_disconnected", error=type(exc).__name__)
                await asyncio.sleep(0.5)  # redis-py resubscribes on reconnect
            except Exception:
                log.exception("room_hub_failed")
                await asyncio.sleep(0.5)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        name = message["channel"]
        if kind == "subscribe":
            ready = self._subscribed.get(name)
            if ready is not None:
                ready.set()
            return
        if kind != "message":
            return
        room_id = self._channels.get(name)
        if room_id is None:
            return
        connections = self._rooms.get(room_id)
        if not connections:
            return
        raw: bytes = message["data"]
        cursor_raw, _, event = raw.partition(b"|")
        head = _decode_head(event)
        if cursor_raw:
            cursor_text = cursor_raw.decode()
            cursor = cursor_key(cursor_text)
            frame = f'{{"cursor":"{cursor_text}",{event[1:].decode()}'
        else:
            cursor = None
            frame = event.decode()
        if head.to is not None:  # addressed: signalling and mute requests
            for connection in list(connections):
                if connection.participant_id == head.to:
                    connection.push(frame)
            return
        for connection in list(connections):
            connection.push(frame, cursor, close_reason(head, connection.participant_id))


def close_reason(head: EventHead, participant_id: uuid.UUID) -> tuple[int, str] | None:
    """Whether this event ends this participant's socket, and with what code."""
    if head.type == "room.ended":
        return CLOSE_ROOM_ENDED, "the meeting has ended"
    if head.type == "participant.left" and head.participant_id == participant_id:
        if head.reason == "removed":
            return CLOSE_FORBIDDEN, "removed by the host"
        return CLOSE_NORMAL, "left the room"
    return None

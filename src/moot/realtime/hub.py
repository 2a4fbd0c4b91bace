"""Fan-out: one Redis pub/sub connection per instance, one channel per topic with local
subscribers, and a bounded queue with a single writer per socket.

An event is parsed and framed once per instance (at most twice: with and without its topic,
for gateway and room sockets), then handed to every local subscription of its topic. A socket
that falls `queue_size` frames or `queue_bytes` bytes behind is closed (1013) and reconnects
with its cursors, so one slow client never holds up a topic nor pins much memory.

When the pub/sub connection comes back after Redis went away (a restart, a network blip),
every local subscription is first re-checked (events that would have ended one, a removal or
the end of a meeting, may be among those missed), then each topic's events published while
the instance was not subscribed are read from the topic's log and delivered, in order and
once: open sockets miss nothing durable, and nobody receives what they lost the right to.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import structlog
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from moot.realtime.close_codes import CloseCode
from moot.realtime.envelope import EventHead, decode_head, frame
from moot.realtime.log import TopicLog
from moot.realtime.topics import channel_key, cursor_key

log = structlog.get_logger(__name__)

# Whether an event ends a subscriber's subscription, and with what code and reason.
Ending = Callable[[EventHead, uuid.UUID], tuple[CloseCode, str] | None]
Closing = tuple[int, str]


class TopicHooks(Protocol):
    """What the hub tells the owners of topics (the gateway's topic kinds)."""

    def observed(self, topic: str, head: EventHead) -> None:
        """An event on `topic` reached this instance (once, whatever its subscribers)."""

    async def revalidate(self, subscriptions: list[Subscription]) -> None:
        """Re-check subscriptions whose ending events may have been lost; end those whose
        grant no longer holds."""


class Broadcast(Protocol):
    """Whoever listens on a channel of its own that every instance subscribes to from start-up
    (not a topic: nothing is kept, nothing replayed), such as session revocations."""

    def received(self, payload: bytes) -> None:
        """A message on the channel."""

    async def reconnected(self) -> None:
        """The pub/sub connection came back: messages sent meanwhile were lost."""


class Connection:
    """One client socket. Frames wait in a deque bounded by count and by bytes; a writer
    task exists only while there is something to send, so an idle socket costs no task
    (bench/: memory per idle socket)."""

    __slots__ = (
        "_closer",
        "_drained",
        "_queue",
        "_queue_bytes",
        "_queue_size",
        "_queued_bytes",
        "_waiting",
        "_writer",
        "closed",
        "socket",
        "subscriber",
    )

    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        subscriber: uuid.UUID,
        queue_size: int,
        queue_bytes: int,
    ) -> None:
        self.socket = socket
        self.subscriber = subscriber
        self._queue: deque[tuple[str, Closing | None, int]] = deque()
        self._queue_size = queue_size
        self._queue_bytes = queue_bytes
        self._queued_bytes = 0
        self.closed = asyncio.Event()
        self._drained = asyncio.Event()
        self._waiting = False  # a replay waits for the queue to drain
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None

    def push(self, text: str, close_after: Closing | None = None, *, force: bool = False) -> None:
        """Queue a frame; a socket too far behind is closed rather than buffered forever
        (`force`: a replay, which waits for the queue to drain instead)."""
        if self.closed.is_set():
            return
        size = _utf8_size(text)
        # An empty queue takes any frame: the limit is on falling behind, not on one frame.
        if not force and self._queue and self._over(size):
            self.closed.set()
            self._clear()
            self._closer = asyncio.create_task(
                self._close(CloseCode.TRY_AGAIN, "too slow; reconnect with since=")
            )
            return
        self._queue.append((text, close_after, size))
        self._queued_bytes += size
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())

    async def drain(self) -> None:
        """Wait until the queue is at most half full (a long replay paces itself)."""
        while not self._half_full() and not self.closed.is_set():
            self._drained.clear()
            self._waiting = True
            try:
                await self._drained.wait()
            finally:
                self._waiting = False

    async def _write(self) -> None:
        try:
            while self._queue:
                text, close_after, size = self._queue.popleft()
                self._queued_bytes -= size
                if text:
                    await self.socket.send_text(text)
                if close_after is not None:
                    self.closed.set()
                    self._clear()
                    await self._close(*close_after)
                    return
                if self._waiting and self._half_full():
                    self._drained.set()
        except (WebSocketDisconnect, OSError, RuntimeError):
            self.closed.set()  # the peer went away mid-send
        except Exception:
            self.closed.set()
            log.exception("socket_writer_failed")
        finally:
            self._drained.set()

    def _over(self, size: int) -> bool:
        """Whether one more frame of `size` bytes would overfill the queue."""
        return len(self._queue) >= self._queue_size or self._queued_bytes + size > self._queue_bytes

    def _half_full(self) -> bool:
        return (
            len(self._queue) <= self._queue_size // 2
            and self._queued_bytes <= self._queue_bytes // 2
        )

    def _clear(self) -> None:
        self._queue.clear()
        self._queued_bytes = 0

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.socket.close(code=code, reason=reason)

    async def stop(self) -> None:
        self.closed.set()
        self._clear()
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer


def _utf8_size(text: str) -> int:
    """The frame's size on the wire; most frames are ASCII, where that is free to know."""
    return len(text) if text.isascii() else len(text.encode())


class Subscription:
    """One topic on one connection. Until it is live (its replay is done), events wait in
    `pending`; going live sends those the replay did not, in order, in one step."""

    __slots__ = (
        "connection",
        "context",
        "done",
        "ending",
        "gateway",
        "live",
        "on_end",
        "pending",
        "topic",
    )

    def __init__(
        self,
        connection: Connection,
        topic: str,
        ending: Ending,
        *,
        gateway: bool,
        on_end: Callable[[Subscription, int, str], None] | None = None,
        context: Any = None,
    ) -> None:
        self.connection = connection
        self.context = context  # what admitted it (the gateway's grant), for re-checks
        self.topic = topic
        self.ending = ending
        self.gateway = gateway  # frames carry their topic; an ending unsubscribes, not closes
        self.on_end = on_end
        self.live = False
        self.done = False  # ended by an event; the gateway detaches it
        self.pending: list[tuple[str, str | None, EventHead]] = []

    def go_live(self, replayed_upto: str | None) -> None:
        upto = cursor_key(replayed_upto) if replayed_upto else (0, 0)
        pending, self.pending = self.pending, []
        self.live = True
        for text, cursor, head in pending:
            if cursor is not None and cursor_key(cursor) <= upto:
                continue  # already sent by the replay
            if not self.deliver(text, head):
                return

    def deliver(self, text: str, head: EventHead, *, force: bool = False) -> bool:
        """Send one event (`force`: a replayed one); False if it ended this subscription."""
        if self.done:
            return False
        ending = self.ending(head, self.connection.subscriber)
        if ending is None:
            self.connection.push(text, force=force)
            return True
        self.end(*ending, event=text, force=force)
        return False

    def end(self, code: int, reason: str, *, event: str = "", force: bool = True) -> None:
        """End the subscription after `event` (the one that ended it, if any): a gateway
        socket is told it is unsubscribed, a single-topic socket closes with `code`. Also how
        a subscription ends whose ending event was lost (found by re-checking its grant)."""
        if self.done:
            return
        self.done = True
        if self.gateway:
            if event:
                self.connection.push(event, force=force)
            if self.on_end is not None:
                self.on_end(self, code, reason)
        else:
            self.connection.push(event, (code, reason), force=True)


class Hub:
    """`hooks.revalidate` re-checks every local subscription when the pub/sub connection
    comes back: events published while it was down (a removal, the end of a meeting) never
    arrive, so whoever lost their grant meanwhile is ended by the check instead; then each
    topic's missed events are read from its log. Nothing is delivered between the reconnect
    and the end of that check."""

    def __init__(
        self,
        redis: Redis,
        log: TopicLog,
        hooks: TopicHooks | None = None,
        broadcasts: Mapping[str, Broadcast] | None = None,
    ) -> None:
        self._pubsub: PubSub = redis.pubsub()
        self._log = log
        self._hooks = hooks
        self._broadcasts = {name.encode(): b for name, b in (broadcasts or {}).items()}
        self._topics: dict[str, set[Subscription]] = {}
        self._channels: dict[bytes, str] = {}
        self._subscribed: dict[bytes, asyncio.Event] = {}
        # Per topic, the cursor of the last durable event this instance delivered: where to
        # read the log from when the pub/sub connection comes back.
        self._last: dict[str, str] = {}
        # After such a catch-up, pub/sub may still bring events the log already gave: up to
        # this cursor they are skipped.
        self._caught_up: dict[str, tuple[int, int]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._instance_channel = f"moot:instance:{uuid.uuid4()}"
        self._instance_bytes = self._instance_channel.encode()
        self._connected_once = False

    async def start(self) -> None:
        # A private channel keeps the pub/sub connection subscribed while no topic is. If
        # Redis is down at start-up, moot still starts (/ready says why) and the reader retries.
        try:
            await self._pubsub.subscribe(self._instance_channel, *self._broadcasts)
        except (RedisError, OSError) as exc:
            log.warning("hub_start_without_redis", error=type(exc).__name__)
        self._reader = asyncio.create_task(self._read(), name="moot-hub")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        for subscriptions in list(self._topics.values()):
            for subscription in list(subscriptions):
                await subscription.connection.stop()
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await asyncio.wait_for(self._pubsub.aclose(), timeout=5)  # type: ignore[no-untyped-call]

    @property
    def connection_count(self) -> int:
        return len({s.connection for subs in self._topics.values() for s in subs})

    async def attach(self, subscription: Subscription) -> None:
        """Add a subscription, subscribing the instance to the topic's channel first."""
        topic = subscription.topic
        name = channel_key(topic).encode()
        subscriptions = self._topics.get(topic)
        if subscriptions is None:
            subscriptions = self._topics[topic] = set()
            self._channels[name] = topic
            self._subscribed[name] = asyncio.Event()
            try:
                await self._pubsub.subscribe(name)
            except BaseException:
                if not self._topics.get(topic):  # nobody else came meanwhile: undo it all
                    self._forget(topic, name)
                raise
        subscriptions.add(subscription)
        # The replay reads the topic's log next; it must not run before Redis confirmed the
        # subscription, or an event published in between would reach neither path.
        await asyncio.wait_for(self._subscribed[name].wait(), timeout=5)
        if topic not in self._last:
            last = await self._log.last_cursor(topic)
            # Unless an event arrived meanwhile (it is newer) or everyone left again.
            if topic in self._topics and topic not in self._last:
                self._last[topic] = last

    async def detach(self, subscription: Subscription) -> None:
        subscriptions = self._topics.get(subscription.topic)
        if subscriptions is None or subscription not in subscriptions:
            return
        subscriptions.discard(subscription)
        if not subscriptions:
            name = channel_key(subscription.topic).encode()
            self._forget(subscription.topic, name)
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.unsubscribe(name)

    def _forget(self, topic: str, name: bytes) -> None:
        self._topics.pop(topic, None)
        self._channels.pop(name, None)
        self._subscribed.pop(name, None)
        self._last.pop(topic, None)
        self._caught_up.pop(topic, None)

    async def _read(self) -> None:
        while True:
            try:
                if not self._pubsub.subscribed:
                    await self._pubsub.subscribe(self._instance_channel, *self._broadcasts)
                async for message in self._pubsub.listen():
                    if self._is_resubscription(message):
                        # Reconnected (redis-py resubscribes every channel as it connects
                        # again): re-check the subscriptions before anything is delivered.
                        log.info("hub_reconnected")
                        await self._revalidate_all()
                        await self._broadcasts_reconnected()
                    resubscribed = self._dispatch(message)
                    if resubscribed is not None:
                        # Before reading on: what pub/sub brings next comes after the gap.
                        await self._catch_up(resubscribed)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("hub_disconnected", error=type(exc).__name__)
                await asyncio.sleep(0.5)  # redis-py resubscribes on reconnect
            except Exception:
                log.exception("hub_failed")
                await asyncio.sleep(0.5)

    def _is_resubscription(self, message: dict[str, Any]) -> bool:
        """The instance channel confirmed again: the connection is a new one."""
        if message["type"] != "subscribe" or message["channel"] != self._instance_bytes:
            return False
        first = not self._connected_once
        self._connected_once = True
        return not first

    async def _revalidate_all(self) -> None:
        if self._hooks is None:
            return
        subscriptions = [s for subs in self._topics.values() for s in subs if not s.done]
        if not subscriptions:
            return
        try:
            await self._hooks.revalidate(subscriptions)
        except Exception:
            # The store that decides grants is down too: the sockets stay, and their sends
            # are still checked one by one.
            log.exception("hub_revalidation_failed")

    async def _broadcasts_reconnected(self) -> None:
        for broadcast in self._broadcasts.values():
            try:
                await broadcast.reconnected()
            except Exception:
                log.exception("hub_broadcast_recheck_failed")

    def _dispatch(self, message: dict[str, Any]) -> str | None:
        """Deliver one pub/sub message; the topic to catch up on if it says the connection
        came back and the topic's channel is subscribed again."""
        kind = message["type"]
        name = message["channel"]
        if kind == "subscribe":
            ready = self._subscribed.get(name)
            if ready is None:
                return None
            if ready.is_set():  # a subscription redis-py renewed on reconnecting
                return self._channels.get(name)
            ready.set()
            return None
        if kind != "message":
            return None
        broadcast = self._broadcasts.get(name)
        if broadcast is not None:
            broadcast.received(message["data"])
            return None
        topic = self._channels.get(name)
        if topic is None:
            return None
        raw: bytes = message["data"]
        cursor_raw, _, event = raw.partition(b"|")
        cursor = cursor_raw.decode() if cursor_raw else None
        if cursor is not None:
            if self._caught_up and topic in self._caught_up:
                if cursor_key(cursor) <= self._caught_up[topic]:
                    return None  # the catch-up delivered it already
                del self._caught_up[topic]
            self._last[topic] = cursor
        self._deliver(topic, cursor, event)
        return None

    async def _catch_up(self, topic: str) -> None:
        """Deliver the topic's events that were published while this instance was not
        subscribed (the log has them); if the log no longer reaches back that far, close
        the topic's sockets with 1013 so their clients reconnect with their cursors."""
        since = self._last.get(topic)
        if since is None or not self._topics.get(topic):
            return
        try:
            missed = await self._log.events_since(topic, since)
        except (RedisError, OSError) as exc:
            log.warning("hub_catch_up_failed", error=type(exc).__name__)
            return  # the connection went again; the next resubscription tries again
        if missed is None:
            for subscription in list(self._topics.get(topic, ())):
                subscription.connection.push("", (CloseCode.TRY_AGAIN, "reconnect with since="))
            return
        for cursor, event in missed:
            self._last[topic] = cursor
            self._deliver(topic, cursor, event)
        if missed:
            self._caught_up[topic] = cursor_key(missed[-1][0])
            log.info("hub_caught_up", events=len(missed))

    def _deliver(self, topic: str, cursor: str | None, event: bytes) -> None:
        subscriptions = self._topics.get(topic)
        if not subscriptions:
            return
        head = decode_head(event)
        if self._hooks is not None:
            self._hooks.observed(topic, head)
        plain: str | None = None  # framed once for room sockets, once for gateway sockets
        tagged: str | None = None
        for subscription in list(subscriptions):
            if head.to is not None and subscription.connection.subscriber != head.to:
                continue  # addressed to someone else (signalling, mute requests)
            if subscription.gateway:
                if tagged is None:
                    tagged = frame(event, cursor, topic)
                text = tagged
            else:
                if plain is None:
                    plain = frame(event, cursor)
                text = plain
            if not subscription.live:
                subscription.pending.append((text, cursor, head))
            elif subscription.done:
                continue
            elif subscription.ending(head, subscription.connection.subscriber) is None:
                subscription.connection.push(text)  # the common case, one call fewer
            else:
                subscription.deliver(text, head)

"""The gateway: one socket per client, topics inside it (Zulip's shape).

The client sends `{"type": "subscribe", "topic": "room:<id>", "since": "<cursor>"?}` and gets,
after any replay of what it missed since that cursor, `{"type": "subscribed", "topic": ...,
"cursor": ...}`: what happened before it is history, what happens after it arrives on the
socket, every event carrying its `topic`. Whether a caller may see a topic is asked of the
domain that owns its kind (a `TopicKind`, injected): this module imports no domain. A refusal
is an error event naming the topic; the socket stays open.

The room socket `/ws/chat/{room}` is the same machinery with one topic and no `topic` field
(`serve_single`): its events, `ready` frame and close codes are what they always were.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import msgspec
import structlog
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from redis.exceptions import RedisError

from moot.errors import MootError, is_store_outage
from moot.infra.untrusted import guarded
from moot.realtime import envelope
from moot.realtime.close_codes import CloseCode
from moot.realtime.hub import Connection, Ending, Hub, Subscription
from moot.realtime.log import TopicLog
from moot.realtime.sessions import SessionSockets
from moot.realtime.topics import cursor_key, split

log = structlog.get_logger(__name__)


@dataclass
class Grant:
    """A caller's admission to a topic, as the owning domain decided it."""

    topic: str  # the canonical name (a room's UUID even if it was asked for by code)
    ending: Ending  # which events end this subscription (the meeting ended, you were removed)
    ready: dict[str, Any] = field(default_factory=dict)  # extra fields for subscribed/ready
    context: Any = None  # the domain's own (a room's seat)


async def refuse_unavailable(socket: WebSocket[Any, Any, Any]) -> None:
    """A store is down while a socket opens: say so, and close with 1013 (try again later),
    which clients answer by reconnecting with their cursor."""
    with contextlib.suppress(Exception):  # the client may be gone already
        await socket.send_text(envelope.error("service_unavailable"))
        await socket.close(code=CloseCode.TRY_AGAIN, reason="service_unavailable")


# The topic ended a subscription with this close code and reason (the gateway says so).
OnEnd = Callable[[Subscription, int, str], None]


class SubscriptionEnded(Exception):
    """Raised by a topic kind handling a frame: the caller's grant no longer holds (removed,
    or the meeting ended, and the event that said so never arrived). The subscription ends as
    that event would have ended it."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


# How a topic kind answers the client that sent it a frame: a frame type and its fields (the
# gateway adds the topic).
Reply = Callable[[str, dict[str, Any]], None]


class TopicKind(Protocol):
    """What the domain owning a kind of topic decides for the gateway."""

    async def grant(self, caller: uuid.UUID, topic_id: str) -> Grant:
        """Admit the caller or raise the MootError that says why not."""

    async def handle(self, grant: Grant, frame: str, reply: Reply) -> None:
        """A client frame addressed to this topic (chat, typing, signalling)."""

    async def released(self, grant: Grant) -> None:
        """The subscription ended (unsubscribed, socket closed, or the topic ended it)."""

    async def revoked(self, grants: Sequence[Grant]) -> list[tuple[CloseCode, str] | None]:
        """For each grant, how its subscription ends if it no longer holds (else None):
        asked in one batch when events may have been lost."""

    def observed(self, topic: str, head: envelope.EventHead) -> None:
        """An event on one of this kind's topics reached this instance (what the kind
        caches about the topic may have changed)."""


class KindHooks:
    """The hub's hooks, answered by the topic kinds: each judges its own topics' grants (in
    one batch per kind) and hears of its topics' events."""

    def __init__(self, kinds: Mapping[str, TopicKind]) -> None:
        self._kinds = kinds

    def observed(self, topic: str, head: envelope.EventHead) -> None:
        kind = self._kinds.get(topic.partition(":")[0])
        if kind is not None:
            kind.observed(topic, head)

    async def revalidate(self, subscriptions: list[Subscription]) -> None:
        by_kind: dict[str, list[Subscription]] = {}
        for subscription in subscriptions:
            if isinstance(subscription.context, Grant):
                kind_name = subscription.topic.partition(":")[0]
                by_kind.setdefault(kind_name, []).append(subscription)
        for kind_name, held in by_kind.items():
            endings = await self._kinds[kind_name].revoked([s.context for s in held])
            for subscription, ending in zip(held, endings, strict=True):
                if ending is not None:
                    subscription.end(*ending)


class _ClientFrame(msgspec.Struct):
    type: str
    topic: str | None = None
    since: str | None = None


_decode_client = guarded(msgspec.json.Decoder(_ClientFrame).decode)


def _is_ping(raw: str) -> bool:
    if "ping" not in raw:
        return False
    try:
        return _decode_client(raw).type == "ping"
    except msgspec.DecodeError:
        return False


@dataclass
class _Open:
    grant: Grant
    kind: TopicKind
    subscription: Subscription


class Gateway:
    def __init__(
        self,
        hub: Hub,
        log: TopicLog,
        kinds: Mapping[str, TopicKind],
        *,
        queue_size: int,
        queue_bytes: int,
        max_frame_bytes: int,
        sessions: SessionSockets | None = None,
        max_topics: int = 100,
    ) -> None:
        self._hub = hub
        self._sessions = sessions
        self._log = log
        self._kinds = kinds
        self._queue_size = queue_size
        self._queue_bytes = queue_bytes
        self._max_frame = max_frame_bytes
        self._max_topics = max_topics

    # -- the gateway socket -------------------------------------------------------------

    async def serve(
        self,
        socket: WebSocket[Any, Any, Any],
        caller: uuid.UUID,
        session_id: uuid.UUID | None = None,
    ) -> None:
        """`/ws`: the caller is authenticated (with `session_id`, an account session whose
        end closes the socket); topics come and go by frames."""
        connection = Connection(socket, caller, self._queue_size, self._queue_bytes)
        self._track(session_id, connection)
        topics: dict[str, _Open] = {}
        dropping: set[asyncio.Task[None]] = set()

        def on_end(subscription: Subscription, code: int, reason: str) -> None:
            # The topic ended this subscription (the meeting ended, you were removed): say
            # so after the event that did it, and drop it; the socket stays.
            connection.push(
                envelope.control("unsubscribed", topic=subscription.topic, code=code, reason=reason)
            )
            opened = topics.get(subscription.topic)
            if opened is not None and opened.subscription is subscription:
                del topics[subscription.topic]
                task = asyncio.create_task(self._drop(opened))
                dropping.add(task)
                task.add_done_callback(dropping.discard)

        connection.push(envelope.control("ready", subscriber=str(caller)))
        try:
            while not connection.closed.is_set():
                raw = await self._next_text(socket, connection)
                if raw is not None:
                    await self._on_frame(raw, connection, topics, on_end)
        finally:
            for opened in list(topics.values()):
                await self._drop(opened)
            for task in list(dropping):
                await task
            self._untrack(session_id, connection)
            await connection.stop()

    async def _on_frame(
        self,
        raw: str,
        connection: Connection,
        topics: dict[str, _Open],
        on_end: OnEnd,
    ) -> None:
        try:
            frame = _decode_client(raw)
        except msgspec.DecodeError as exc:
            connection.push(envelope.error("invalid_frame", str(exc)))
            return
        if frame.type == "ping":
            connection.push('{"type":"pong"}')
            return
        if frame.topic is None:
            connection.push(envelope.error("invalid_frame", f"{frame.type} needs a topic."))
            return
        if frame.type == "subscribe":
            await self._subscribe(frame.topic, frame.since, connection, topics, on_end)
            return
        opened = topics.get(frame.topic)
        if frame.type == "unsubscribe":
            if opened is not None:
                del topics[opened.grant.topic]
                await self._drop(opened)
            connection.push(
                envelope.control(
                    "unsubscribed", topic=frame.topic, code=CloseCode.NORMAL, reason="unsubscribed"
                )
            )
            return
        if opened is None:
            connection.push(envelope.error("not_subscribed", topic=frame.topic))
            return
        topic = opened.grant.topic

        def reply(kind: str, fields: dict[str, Any]) -> None:
            connection.push(envelope.control(kind, topic=topic, **fields))

        try:
            await opened.kind.handle(opened.grant, raw, reply)
        except MootError as exc:
            connection.push(
                envelope.error(exc.code, exc.message, topic=opened.grant.topic, **exc.details)
            )
        except SubscriptionEnded as ended:
            opened.subscription.end(ended.code, ended.reason)
        except Exception as exc:
            if not is_store_outage(exc):
                raise
            connection.push(envelope.error("service_unavailable", topic=opened.grant.topic))

    async def _subscribe(
        self,
        name: str,
        since: str | None,
        connection: Connection,
        topics: dict[str, _Open],
        on_end: OnEnd,
    ) -> None:
        try:
            kind_name, topic_id = split(name)
            kind = self._kinds[kind_name]
        except (ValueError, KeyError):
            connection.push(envelope.error("unknown_topic", topic=name))
            return
        if len(topics) >= self._max_topics:
            connection.push(
                envelope.error(
                    "too_many_topics", f"At most {self._max_topics} topics per socket.", topic=name
                )
            )
            return
        try:
            grant = await kind.grant(connection.subscriber, topic_id)
        except MootError as exc:
            connection.push(envelope.error(exc.code, exc.message, topic=name, **exc.details))
            return
        except Exception as exc:
            if not is_store_outage(exc):
                raise
            connection.push(envelope.error("service_unavailable", topic=name))
            return
        if grant.topic in topics:  # subscribing again: a fresh replay from `since`
            await self._drop(topics.pop(grant.topic))
        subscription = Subscription(
            connection, grant.topic, grant.ending, gateway=True, on_end=on_end, context=grant
        )
        opened = _Open(grant, kind, subscription)
        try:
            await self._hub.attach(subscription)
            topics[grant.topic] = opened
            upto = await self._replay(subscription, since)
        except Exception as exc:
            topics.pop(grant.topic, None)
            await self._drop(opened)  # the grant's side effects (presence) are undone
            if not is_store_outage(exc):
                raise
            connection.push(envelope.error("service_unavailable", topic=name))
            return
        if upto is None:
            return  # the replay ended the subscription
        connection.push(
            envelope.control("subscribed", topic=grant.topic, cursor=upto, **grant.ready)
        )
        subscription.go_live(upto)

    async def _drop(self, opened: _Open) -> None:
        await self._hub.detach(opened.subscription)
        with contextlib.suppress(RedisError, OSError):
            await opened.kind.released(opened.grant)

    # -- one topic, the room socket's way ------------------------------------------------

    async def serve_single(
        self,
        socket: WebSocket[Any, Any, Any],
        caller: uuid.UUID,
        kind: TopicKind,
        grant: Grant,
        since: str | None,
        session_id: uuid.UUID | None = None,
    ) -> None:
        """A socket bound to one topic for its life: frames without `topic`, `ready` once the
        replay is done, and an event that ends the subscription closes the socket."""
        connection = Connection(socket, caller, self._queue_size, self._queue_bytes)
        self._track(session_id, connection)
        subscription = Subscription(
            connection, grant.topic, grant.ending, gateway=False, context=grant
        )
        try:
            try:
                await self._hub.attach(subscription)
                upto = await self._replay(subscription, since)
            except Exception as exc:
                if not is_store_outage(exc):
                    raise
                await connection.stop()  # nothing half-replayed goes out
                await refuse_unavailable(socket)
                return
            if upto is None:
                await connection.closed.wait()
                return
            connection.push(envelope.control("ready", cursor=upto, **grant.ready))
            subscription.go_live(upto)

            def reply(kind: str, fields: dict[str, Any]) -> None:
                connection.push(envelope.control(kind, **fields))

            while not connection.closed.is_set():
                raw = await self._next_text(socket, connection)
                if raw is None:
                    continue
                if _is_ping(raw):
                    connection.push('{"type":"pong"}')
                    continue
                try:
                    await kind.handle(grant, raw, reply)
                except MootError as exc:
                    connection.push(envelope.error(exc.code, exc.message, **exc.details))
                except SubscriptionEnded as ended:
                    subscription.end(ended.code, ended.reason)
                except Exception as exc:
                    if not is_store_outage(exc):
                        raise
                    connection.push(envelope.error("service_unavailable"))
        finally:
            self._untrack(session_id, connection)
            await self._hub.detach(subscription)
            await connection.stop()
            with contextlib.suppress(RedisError, OSError):
                await kind.released(grant)

    # -- shared -------------------------------------------------------------------------

    def _track(self, session_id: uuid.UUID | None, connection: Connection) -> None:
        if session_id is not None and self._sessions is not None:
            self._sessions.add(session_id, connection)

    def _untrack(self, session_id: uuid.UUID | None, connection: Connection) -> None:
        if session_id is not None and self._sessions is not None:
            self._sessions.discard(session_id, connection)

    async def _replay(self, subscription: Subscription, since: str | None) -> str | None:
        """Send what the client missed since `since`; the cursor it is now at, or None if a
        replayed event ended the subscription."""
        connection, topic = subscription.connection, subscription.topic
        tag = topic if subscription.gateway else None
        last = await self._log.last_cursor(topic)
        if not since:
            return last
        try:
            cursor_key(since)
            missed = await self._log.events_since(topic, since)
        except ValueError:
            connection.push(
                envelope.error(
                    "invalid_cursor", "since is not a cursor", **({"topic": tag} if tag else {})
                )
            )
            missed = None
        if missed is None:
            fields: dict[str, Any] = {"topic": tag} if tag else {}
            connection.push(envelope.control("resync", cursor=last, **fields))
            return last
        for cursor, event in missed:
            text = envelope.frame(event, cursor, tag)
            if not subscription.deliver(text, envelope.decode_head(event), force=True):
                return None
            last = max(last, cursor, key=cursor_key)
            await connection.drain()
        return last

    async def _next_text(
        self, socket: WebSocket[Any, Any, Any], connection: Connection
    ) -> str | None:
        """The next text frame; None for a frame we answered with an error, or when the
        socket closed (then `connection.closed` is set)."""
        try:
            event = await socket.receive()
        except (WebSocketDisconnect, RuntimeError):
            connection.closed.set()
            return None
        if event["type"] == "websocket.disconnect":
            connection.closed.set()
            return None
        raw = cast(str | None, event.get("text"))
        if raw is None:
            connection.push(envelope.error("invalid_frame", "Send JSON text frames."))
            return None
        max_frame = self._max_frame
        if len(raw) > max_frame // 4 and len(raw.encode()) > max_frame:  # cheap check first
            connection.push(
                envelope.error("frame_too_large", f"Frames are limited to {max_frame} bytes.")
            )
            return None
        return raw

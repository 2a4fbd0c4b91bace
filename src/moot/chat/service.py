"""The rules of room chat: who may read and write, what a message may hold, who may change it;
and the room events everyone in the room hears about."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog
from redis.exceptions import RedisError

from moot.chat.schemas import (
    ChatMessage,
    ClientAnswer,
    ClientOffer,
    ClientSignal,
    HostChanged,
    MessageCreated,
    MessageDeleted,
    MessageEdited,
    MessagePage,
    MuteRequested,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantUpdated,
    RoomEnded,
    RoomEvent,
    RoomUpdated,
    Signal,
    SignalAnswer,
    SignalIce,
    SignalOffer,
    TranscriptFinal,
    TranscriptionUpdated,
    TranscriptPartial,
    Typing,
)
from moot.chat.store import ChatStore
from moot.errors import MootError
from moot.infra.ratelimit import RateLimiter
from moot.rooms.schemas import ParticipantView
from moot.rooms.service import RoomService
from moot.settings import Settings

log = structlog.get_logger(__name__)

_encode = msgspec.json.Encoder().encode
_decode_message = msgspec.json.Decoder(ChatMessage).decode
_CAS_ATTEMPTS = 20


def new_message_id(ms: int) -> str:
    """`<13-digit ms>-<8 hex>`: unique, and sorts by time as a string."""
    return f"{ms:013d}-{secrets.token_hex(4)}"


def _new_message(
    room_id: uuid.UUID,
    participant_id: uuid.UUID | None,
    display_name: str,
    message_type: str,
    content: str,
) -> tuple[ChatMessage, tuple[str, int, bytes, bytes]]:
    """A message stamped now, and what the store keeps of it: (id, score, JSON, event JSON)."""
    now_ms = time.time_ns() // 1_000_000
    message = ChatMessage(
        id=new_message_id(now_ms),
        room_id=room_id,
        participant_id=participant_id,
        display_name=display_name,
        message_type=message_type,  # type: ignore[arg-type]
        content=content,
        created_at=datetime.fromtimestamp(now_ms / 1000, UTC),
    )
    return message, (message.id, now_ms, _encode(message), _encode(MessageCreated(message=message)))


def _score(message_id: str) -> int:
    return int(message_id[:13])


class ChatService:
    def __init__(
        self, store: ChatStore, rooms: RoomService, limiter: RateLimiter, settings: Settings
    ) -> None:
        self._store = store
        self._rooms = rooms
        self._limiter = limiter
        self._settings = settings

    # -- messages ------------------------------------------------------------------------

    def clean_content(self, content: str) -> str:
        content = content.strip()
        if not content:
            raise MootError("validation_failed", "content must not be empty.", field="content")
        limit = self._settings.chat_message_max_length
        if len(content) > limit:
            raise MootError(
                "validation_failed",
                f"content must be at most {limit} characters.",
                field="content",
            )
        return content

    async def send(self, ref: str, participant_id: uuid.UUID, content: str) -> ChatMessage:
        room_id = await self._rooms.resolve(ref)
        seat = await self._rooms.require_participant(room_id, participant_id)
        return await self.send_as(room_id, seat, content)

    async def send_as(self, room_id: uuid.UUID, seat: ParticipantView, content: str) -> ChatMessage:
        """Send for a seat already checked (the WebSocket checks once, at connect)."""
        content = self.clean_content(content)
        await self._limiter.check("chat_message", str(seat.participant_id))
        return await self._add(room_id, seat.participant_id, seat.display_name, "user", content)

    async def system_message(self, room_id: uuid.UUID, content: str) -> ChatMessage:
        return await self._add(room_id, None, "moot", "system", content)

    async def _add(
        self,
        room_id: uuid.UUID,
        participant_id: uuid.UUID | None,
        display_name: str,
        message_type: str,
        content: str,
    ) -> ChatMessage:
        message, stored = _new_message(room_id, participant_id, display_name, message_type, content)
        await self._store.add_message(room_id, *stored)
        return message

    async def history(
        self,
        ref: str,
        participant_id: uuid.UUID,
        *,
        limit: int,
        before: str | None,
        after: str | None,
    ) -> MessagePage:
        room_id = await self._rooms.resolve(ref)
        await self._rooms.require_participant(room_id, participant_id)
        if before and after:
            raise MootError("invalid_request", "Use either before or after, not both.")
        # Same-millisecond neighbours of the cursor share its score: fetch a few extra and
        # cut at the cursor by id, which sorts like (ms, random suffix) just as the set does.
        slack = 16
        if before:
            rows = await self._store.before(room_id, _score(before), limit + 1 + slack)
            items = [m for m in self._decode(rows) if m.id < before]
            return MessagePage(items=items[-limit:], has_more=len(items) > limit)
        if after:
            rows = await self._store.after(room_id, _score(after), limit + 1 + slack)
            items = [m for m in self._decode(rows) if m.id > after]
            return MessagePage(items=items[:limit], has_more=len(items) > limit)
        rows = await self._store.latest(room_id, limit + 1)
        items = self._decode(rows)
        return MessagePage(items=items[-limit:], has_more=len(items) > limit)

    @staticmethod
    def _decode(rows: list[tuple[bytes, float]]) -> list[ChatMessage]:
        return [_decode_message(raw) for raw, _ in rows]

    async def edit(
        self, ref: str, participant_id: uuid.UUID, message_id: str, content: str
    ) -> ChatMessage:
        room_id = await self._rooms.resolve(ref)
        await self._rooms.require_participant(room_id, participant_id)
        content = self.clean_content(content)
        for _ in range(_CAS_ATTEMPTS):
            raw = await self._current(room_id, message_id)
            message = _decode_message(raw)
            if message.participant_id != participant_id:
                raise MootError("not_message_author", "You can only edit your own messages.")
            edited = msgspec.structs.replace(message, content=content, edited_at=datetime.now(UTC))
            cursor = await self._store.replace_message(
                room_id,
                message_id,
                raw,
                _encode(edited),
                _score(message_id),
                _encode(MessageEdited(message=edited)),
            )
            if cursor is not None:
                return edited
        raise MootError("conflict", "The message kept changing; try again.")

    async def delete(self, ref: str, participant_id: uuid.UUID, message_id: str) -> None:
        room_id = await self._rooms.resolve(ref)
        seat = await self._rooms.require_participant(room_id, participant_id)
        for _ in range(_CAS_ATTEMPTS):
            raw = await self._current(room_id, message_id)
            message = _decode_message(raw)
            if message.participant_id != participant_id and seat.role != "host":
                raise MootError(
                    "not_message_author", "Only the author or the host can delete a message."
                )
            cursor = await self._store.replace_message(
                room_id,
                message_id,
                raw,
                None,
                _score(message_id),
                _encode(MessageDeleted(message_id=message_id, deleted_by=participant_id)),
            )
            if cursor is not None:
                return
        raise MootError("conflict", "The message kept changing; try again.")

    async def _current(self, room_id: uuid.UUID, message_id: str) -> bytes:
        raw = await self._store.get_message(room_id, message_id)
        if raw is None:
            raise MootError("message_not_found")
        return raw

    # -- room events ---------------------------------------------------------------------

    async def typing(self, room_id: uuid.UUID, seat: ParticipantView) -> None:
        event = Typing(participant_id=seat.participant_id, display_name=seat.display_name)
        await self._store.publish_ephemeral(room_id, _encode(event))

    async def signal(self, room_id: uuid.UUID, sender: uuid.UUID, frame: ClientSignal) -> None:
        """Relay a mesh signalling frame to the one participant it is addressed to."""
        if self._rooms.media_mode != "mesh":
            raise MootError(
                "invalid_request", "This server uses LiveKit; peer-to-peer signalling is off."
            )
        if frame.to == sender:
            raise MootError("invalid_request", "A signal cannot be addressed to yourself.")
        if not await self._rooms.is_present(room_id, frame.to):
            raise MootError(
                "participant_not_found",
                "The addressed participant is not in this room; the signal was dropped.",
                to=str(frame.to),
            )
        event: Signal
        if isinstance(frame, ClientOffer):
            event = SignalOffer(from_=sender, to=frame.to, sdp=frame.sdp)
        elif isinstance(frame, ClientAnswer):
            event = SignalAnswer(from_=sender, to=frame.to, sdp=frame.sdp)
        else:
            event = SignalIce(from_=sender, to=frame.to, candidate=frame.candidate)
        await self._store.publish_ephemeral(room_id, _encode(event))

    async def request_mute(
        self, room_id: uuid.UUID, host: uuid.UUID, target: uuid.UUID, kind: str
    ) -> None:
        event = MuteRequested(to=target, kind=kind, by=host)  # type: ignore[arg-type]
        await self._store.publish_ephemeral(room_id, _encode(event))

    async def participant_joined(self, room_id: uuid.UUID, participant: ParticipantView) -> None:
        # On the join path: the event and its system message go to Redis in one round trip.
        _, stored = _new_message(
            room_id, None, "moot", "system", f"{participant.display_name} joined"
        )
        await self._store.publish_event_then_message(
            room_id,
            _encode(ParticipantJoined(participant=participant)),
            stored,
            participant_op="set",
            participant_id=participant.participant_id,
            participant=_encode(participant),
        )

    async def participant_left(
        self,
        room_id: uuid.UUID,
        participant: ParticipantView,
        reason: str,
        new_host: ParticipantView | None = None,
    ) -> None:
        await self._event(
            room_id,
            ParticipantLeft(
                participant_id=participant.participant_id,
                display_name=participant.display_name,
                reason=reason,  # type: ignore[arg-type]
            ),
            op="del",
            who=participant.participant_id,
        )
        verb = "was removed by the host" if reason == "removed" else "left"
        await self.system_message(room_id, f"{participant.display_name} {verb}")
        if new_host is not None:
            await self.host_changed(room_id, new_host)

    async def participant_renamed(
        self, room_id: uuid.UUID, participant: ParticipantView, old_name: str
    ) -> None:
        await self._event(
            room_id,
            ParticipantUpdated(participant=participant),
            op="set",
            who=participant.participant_id,
            data=_encode(participant),
        )
        await self.system_message(room_id, f"{old_name} is now {participant.display_name}")

    async def host_changed(self, room_id: uuid.UUID, host: ParticipantView) -> None:
        await self._event(
            room_id, HostChanged(host=host), op="set", who=host.participant_id, data=_encode(host)
        )
        await self.system_message(room_id, f"{host.display_name} is now the host")

    async def transcription_updated(
        self, room_id: uuid.UUID, status: str, host_id: uuid.UUID | None
    ) -> None:
        event = TranscriptionUpdated(status=status, host_id=host_id)  # type: ignore[arg-type]
        await self._event(room_id, event)

    async def transcript(
        self, room_id: uuid.UUID, event: TranscriptPartial | TranscriptFinal
    ) -> None:
        """Partials are ephemeral (replaced in place by the next one); finals are kept in the
        event stream for replay (and in PostgreSQL by the worker's batch writer)."""
        if isinstance(event, TranscriptPartial):
            await self._store.publish_ephemeral(room_id, _encode(event))
        else:
            await self._event(room_id, event)

    async def room_updated(self, room_id: uuid.UUID, locked: bool) -> None:
        await self._event(room_id, RoomUpdated(locked=locked))
        await self.system_message(
            room_id, "The host locked the room" if locked else "The host unlocked the room"
        )

    async def room_ended(self, room_id: uuid.UUID, reason: str) -> None:
        await self.system_message(room_id, "The meeting has ended")
        await self._event(room_id, RoomEnded(reason=reason), op="clear")

    async def _event(
        self,
        room_id: uuid.UUID,
        event: RoomEvent,
        *,
        op: str = "",
        who: uuid.UUID | None = None,
        data: bytes = b"",
    ) -> str:
        return await self._store.publish_event(
            room_id, _encode(event), participant_op=op, participant_id=who, participant=data
        )

    # -- replay --------------------------------------------------------------------------

    async def events_since(self, room_id: uuid.UUID, cursor: str) -> list[tuple[str, bytes]] | None:
        return await self._store.events_since(room_id, cursor)

    async def last_cursor(self, room_id: uuid.UUID) -> str:
        return await self._store.last_cursor(room_id)


def clean_message_id(message_id: str) -> str:
    if len(message_id) != 22 or message_id[13] != "-" or not message_id[:13].isdigit():
        raise MootError("message_not_found")
    return message_id


async def announce(event: Coroutine[Any, Any, Any]) -> None:
    """Room events follow a committed change in PostgreSQL; if Redis fails to carry one, the
    change still stands, so the failure is logged rather than failing the request."""
    try:
        await event
    except (RedisError, OSError) as exc:
        log.warning("room_event_not_published", error=type(exc).__name__)

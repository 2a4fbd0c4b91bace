"""The rules of room chat: what a message may hold, who may change it, and the events that
tell everyone on the room's topic. Who may read and write is asked of the conversation's
owner (`Members`, which rooms/ provides): chat imports no room."""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Protocol

import msgspec

from moot.chat.schemas import (
    Author,
    ChatMessage,
    MessageCreated,
    MessageDeleted,
    MessageEdited,
    MessagePage,
    SystemNote,
    Typing,
)
from moot.chat.store import ChatStore, StoredMessage
from moot.errors import MootError
from moot.infra.ratelimit import RateLimiter
from moot.realtime.log import TopicLog
from moot.realtime.topics import topic
from moot.settings import ChatSettings

_encode = msgspec.json.Encoder().encode
_decode_message = msgspec.json.Decoder(ChatMessage).decode
_CAS_ATTEMPTS = 20
_SYSTEM = "moot"


class Members(Protocol):
    async def author(self, room_id: uuid.UUID, participant_id: uuid.UUID) -> Author:
        """The caller as an author in this room, or the MootError that says why not."""


def new_message_id(ms: int) -> str:
    """`<13-digit ms>-<8 hex>`: unique, and sorts by time as a string."""
    return f"{ms:013d}-{secrets.token_hex(4)}"


def clean_message_id(message_id: str) -> str:
    if len(message_id) != 22 or message_id[13] != "-" or not message_id[:13].isdigit():
        raise MootError("message_not_found")
    return message_id


def _new_message(
    room_id: uuid.UUID,
    participant_id: uuid.UUID | None,
    display_name: str,
    message_type: str,
    content: str,
    *,
    system: SystemNote | None = None,
    client_id: str | None = None,
) -> tuple[ChatMessage, StoredMessage]:
    """A message stamped now, and what the store keeps of it (`client_id` goes on its event
    only: the message itself is the same for everyone)."""
    now_ms = time.time_ns() // 1_000_000
    message = ChatMessage(
        id=new_message_id(now_ms),
        room_id=room_id,
        participant_id=participant_id,
        display_name=display_name,
        message_type=message_type,  # type: ignore[arg-type]
        content=content,
        created_at=datetime.fromtimestamp(now_ms / 1000, UTC),
        system=system,
    )
    event = MessageCreated(message=message, client_id=client_id)
    return message, (message.id, now_ms, _encode(message), _encode(event))


def _score(message_id: str) -> int:
    return int(message_id[:13])


def _topic(room_id: uuid.UUID) -> str:
    return topic("room", room_id)


class ChatService:
    def __init__(
        self,
        store: ChatStore,
        log: TopicLog,
        members: Members,
        limiter: RateLimiter,
        settings: ChatSettings,
    ) -> None:
        self._store = store
        self._log = log
        self._members = members
        self._limiter = limiter
        self._settings = settings

    # -- messages ------------------------------------------------------------------------

    def clean_content(self, content: str) -> str:
        content = content.strip()
        if not content:
            raise MootError("validation_failed", "content must not be empty.", field="content")
        limit = self._settings.message_max_length
        if len(content) > limit:
            raise MootError(
                "validation_failed",
                f"content must be at most {limit} characters.",
                field="content",
            )
        return content

    async def send(
        self, room_id: uuid.UUID, participant_id: uuid.UUID, content: str
    ) -> ChatMessage:
        author = await self._members.author(room_id, participant_id)
        return await self.send_as(room_id, author, content)

    async def send_as(
        self, room_id: uuid.UUID, author: Author, content: str, client_id: str | None = None
    ) -> ChatMessage:
        """Send for an author already checked (a room socket checks at connect)."""
        content = self.clean_content(content)
        await self._limiter.check("chat_message", str(author.participant_id))
        message, stored = _new_message(
            room_id,
            author.participant_id,
            author.display_name,
            "user",
            content,
            client_id=client_id,
        )
        await self._store.add_message(room_id, _topic(room_id), stored)
        return message

    async def system_message(
        self, room_id: uuid.UUID, content: str, system: SystemNote
    ) -> ChatMessage:
        """`content` in English, `system` the same as data (clients word it themselves)."""
        message, stored = _new_message(room_id, None, _SYSTEM, "system", content, system=system)
        await self._store.add_message(room_id, _topic(room_id), stored)
        return message

    async def event_with_system_message(
        self, room_id: uuid.UUID, event: bytes, content: str, system: SystemNote
    ) -> None:
        """Publish an event on the room's topic and the system message that tells of it, in
        one step (the join path: one round trip to Redis)."""
        _, stored = _new_message(room_id, None, _SYSTEM, "system", content, system=system)
        await self._store.add_after_event(room_id, _topic(room_id), event, stored)

    async def history(
        self,
        room_id: uuid.UUID,
        participant_id: uuid.UUID,
        *,
        limit: int | None,
        before: str | None,
        after: str | None,
    ) -> MessagePage:
        before = clean_message_id(before) if before else None
        after = clean_message_id(after) if after else None
        await self._members.author(room_id, participant_id)
        if before and after:
            raise MootError("invalid_request", "Use either before or after, not both.")
        settings = self._settings
        limit = min(limit or settings.history_default_limit, settings.history_max_limit)
        # Same-millisecond neighbours of the cursor share its score: fetch a few extra and
        # cut at the cursor by id, which sorts like (ms, random suffix) just as the set does.
        slack = 16
        if before:
            rows = await self._store.before(room_id, _score(before), limit + 1 + slack)
            items = [m for m in _decode(rows) if m.id < before]
            return MessagePage(items=items[-limit:], has_more=len(items) > limit)
        if after:
            rows = await self._store.after(room_id, _score(after), limit + 1 + slack)
            items = [m for m in _decode(rows) if m.id > after]
            return MessagePage(items=items[:limit], has_more=len(items) > limit)
        rows = await self._store.latest(room_id, limit + 1)
        items = _decode(rows)
        return MessagePage(items=items[-limit:], has_more=len(items) > limit)

    async def edit(
        self, room_id: uuid.UUID, participant_id: uuid.UUID, message_id: str, content: str
    ) -> ChatMessage:
        message_id = clean_message_id(message_id)
        await self._members.author(room_id, participant_id)
        content = self.clean_content(content)
        for _ in range(_CAS_ATTEMPTS):
            raw = await self._current(room_id, message_id)
            message = _decode_message(raw)
            if message.participant_id != participant_id:
                raise MootError("not_message_author", "You can only edit your own messages.")
            edited = msgspec.structs.replace(message, content=content, edited_at=datetime.now(UTC))
            cursor = await self._store.replace_message(
                room_id,
                _topic(room_id),
                message_id,
                raw,
                _encode(edited),
                _score(message_id),
                _encode(MessageEdited(message=edited)),
            )
            if cursor is not None:
                return edited
        raise MootError("conflict", "The message kept changing; try again.")

    async def delete(self, room_id: uuid.UUID, participant_id: uuid.UUID, message_id: str) -> None:
        message_id = clean_message_id(message_id)
        author = await self._members.author(room_id, participant_id)
        for _ in range(_CAS_ATTEMPTS):
            raw = await self._current(room_id, message_id)
            message = _decode_message(raw)
            if message.participant_id != participant_id and not author.moderator:
                raise MootError(
                    "not_message_author", "Only the author or the host can delete a message."
                )
            cursor = await self._store.replace_message(
                room_id,
                _topic(room_id),
                message_id,
                raw,
                None,
                _score(message_id),
                _encode(MessageDeleted(message_id=message_id, deleted_by=participant_id)),
            )
            if cursor is not None:
                return
        raise MootError("conflict", "The message kept changing; try again.")

    async def rename_author(
        self, room_id: uuid.UUID, participant_id: uuid.UUID, display_name: str
    ) -> int:
        """Put another name on every message this participant wrote in the room (a deleted
        account's), each as a `message.edited` whose `edited_at` stays as it was: the
        author did not edit anything. How many messages changed."""
        renamed = 0
        for raw in await self._store.all_messages(room_id):
            message = _decode_message(raw)
            if message.participant_id != participant_id or message.display_name == display_name:
                continue
            for _ in range(_CAS_ATTEMPTS):
                changed = msgspec.structs.replace(message, display_name=display_name)
                cursor = await self._store.replace_message(
                    room_id,
                    _topic(room_id),
                    message.id,
                    raw,
                    _encode(changed),
                    _score(message.id),
                    _encode(MessageEdited(message=changed)),
                )
                if cursor is not None:
                    renamed += 1
                    break
                current = await self._store.get_message(room_id, message.id)
                if current is None:
                    break  # deleted meanwhile
                raw, message = current, _decode_message(current)
        return renamed

    async def forget_room(self, room_id: uuid.UUID) -> None:
        """A room was deleted: its chat and event log go with it, not at their TTL."""
        await self._store.delete_room(room_id, _topic(room_id))

    async def typing(self, room_id: uuid.UUID, author: Author) -> None:
        event = Typing(participant_id=author.participant_id, display_name=author.display_name)
        await self._log.publish_ephemeral(_topic(room_id), _encode(event))

    async def _current(self, room_id: uuid.UUID, message_id: str) -> bytes:
        raw = await self._store.get_message(room_id, message_id)
        if raw is None:
            raise MootError("message_not_found")
        return raw


def _decode(rows: list[tuple[bytes, float]]) -> list[ChatMessage]:
    return [_decode_message(raw) for raw, _ in rows]

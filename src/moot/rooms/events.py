"""Room events: what everyone on a room's topic hears after a change to the room commits,
with the system message that tells of it in the chat. The room service calls these; nothing
else publishes room events.

A system message says what happened twice: as English `content` (for clients that show text)
and as a typed `system` note (`{kind, participant_id, name, previous_name}`) that clients word
in their reader's language.

A change in PostgreSQL stands even if Redis fails to carry its event, so a failure to publish
is logged, not raised: the request that made the change still succeeds.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable

import msgspec
import structlog
from redis.exceptions import RedisError

from moot.chat.schemas import SystemKind, SystemNote
from moot.chat.service import ChatService
from moot.realtime.log import TopicLog
from moot.realtime.topics import topic
from moot.rooms.schemas import (
    DELETED_ACCOUNT_NAME,
    HostChanged,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantUpdated,
    ParticipantView,
    RoomEnded,
    RoomUpdated,
)

log = structlog.get_logger(__name__)
_encode = msgspec.json.Encoder().encode


class RoomEvents:
    def __init__(self, chat: ChatService, log: TopicLog) -> None:
        self._chat = chat
        self._log = log

    async def joined(self, room_id: uuid.UUID, participant: ParticipantView) -> None:
        # On the join path: the event and its system message go to Redis in one round trip.
        event = _encode(ParticipantJoined(participant=participant))
        text = f"{participant.display_name} joined"
        note = _about("joined", participant)
        await _announce(self._chat.event_with_system_message(room_id, event, text, note))

    async def renamed(
        self, room_id: uuid.UUID, participant: ParticipantView, old_name: str
    ) -> None:
        event = _encode(ParticipantUpdated(participant=participant))
        text = f"{old_name} is now {participant.display_name}"
        note = _about("renamed", participant, previous_name=old_name)
        await _announce(self._chat.event_with_system_message(room_id, event, text, note))

    async def left(
        self,
        room_id: uuid.UUID,
        participant: ParticipantView,
        reason: str,
        new_host: ParticipantView | None = None,
    ) -> None:
        event = _encode(
            ParticipantLeft(
                participant_id=participant.participant_id,
                display_name=participant.display_name,
                reason=reason,  # type: ignore[arg-type]
            )
        )
        removed = reason == "removed"
        text = f"{participant.display_name} {'was removed by the host' if removed else 'left'}"
        note = _about("removed" if removed else "left", participant)
        await _announce(self._chat.event_with_system_message(room_id, event, text, note))
        if new_host is not None:
            await self.host_changed(room_id, new_host)

    async def host_changed(self, room_id: uuid.UUID, host: ParticipantView) -> None:
        event = _encode(HostChanged(host=host))
        text = f"{host.display_name} is now the host"
        note = _about("host_changed", host)
        await _announce(self._chat.event_with_system_message(room_id, event, text, note))

    async def updated(self, room_id: uuid.UUID, locked: bool) -> None:
        event = _encode(RoomUpdated(locked=locked))
        text = "The host locked the room" if locked else "The host unlocked the room"
        note = SystemNote(kind="locked" if locked else "unlocked")
        await _announce(self._chat.event_with_system_message(room_id, event, text, note))

    async def account_deleted(
        self, room_id: uuid.UUID, participant_id: uuid.UUID, seat: ParticipantView | None
    ) -> None:
        """A deleted account's messages show the deleted-account name (each one a
        `message.edited`, so open clients relabel it), and so does its seat if it holds one."""
        await _announce(self._chat.rename_author(room_id, participant_id, DELETED_ACCOUNT_NAME))
        if seat is not None:
            event = _encode(ParticipantUpdated(participant=seat))
            await _announce(self._log.publish(topic("room", room_id), event))

    async def ended(self, room_id: uuid.UUID, reason: str) -> None:
        # The system message first: the event closes everyone's socket.
        note = SystemNote(kind="ended")
        await _announce(self._chat.system_message(room_id, "The meeting has ended", note))
        ended = _encode(RoomEnded(reason=reason))
        await _announce(self._log.publish(topic("room", room_id), ended))

    async def forget(self, room_id: uuid.UUID) -> None:
        """The room was deleted: nobody will hear its topic again, so its chat and event log
        go now (if Redis is away, they expire with their TTL)."""
        await _announce(self._chat.forget_room(room_id))


def _about(
    kind: SystemKind, participant: ParticipantView, previous_name: str | None = None
) -> SystemNote:
    return SystemNote(
        kind=kind,
        participant_id=participant.participant_id,
        name=participant.display_name,
        previous_name=previous_name,
    )


async def _announce(publishing: Awaitable[object]) -> None:
    try:
        await publishing
    except (RedisError, OSError) as exc:
        log.warning("room_event_not_published", error=type(exc).__name__)

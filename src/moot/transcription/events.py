"""Transcription's events on the room topic: the run's state, and the live transcript.

Partials are ephemeral (replaced in place by the next one); finals are kept in the topic's
log for replay (and in PostgreSQL by the worker's batch writer). A failure to publish is
logged: the change it tells of stands.
"""

from __future__ import annotations

import uuid
from typing import Literal

import msgspec
import structlog
from redis.exceptions import RedisError

from moot.realtime.log import TopicLog
from moot.realtime.topics import topic

log = structlog.get_logger(__name__)
_encode = msgspec.json.Encoder().encode


class TranscriptionUpdated(
    msgspec.Struct, kw_only=True, tag="transcription.updated", tag_field="type"
):
    status: Literal["idle", "active"]
    host_id: uuid.UUID | None


class _Transcript(msgspec.Struct, kw_only=True):
    utterance_id: str
    participant_id: uuid.UUID
    text: str
    start: float  # seconds since the room was created
    end: float
    language: str | None


class TranscriptPartial(_Transcript, tag="transcript.partial", tag_field="type"):
    """Replaced in place by the next partial, or the final, of the same utterance."""


class TranscriptFinal(_Transcript, tag="transcript.final", tag_field="type"):
    pass


class TranscriptDeletedEvent(
    msgspec.Struct, kw_only=True, tag="transcript.deleted", tag_field="type"
):
    """The host deleted the transcript: clear every line shown so far."""

    by: uuid.UUID


class TranscriptionEvents:
    def __init__(self, log: TopicLog) -> None:
        self._log = log

    async def updated(self, room_id: uuid.UUID, status: str, host_id: uuid.UUID | None) -> None:
        event = TranscriptionUpdated(status=status, host_id=host_id)  # type: ignore[arg-type]
        await self._publish(room_id, _encode(event), keep=True)

    async def transcript(
        self, room_id: uuid.UUID, event: TranscriptPartial | TranscriptFinal
    ) -> None:
        await self._publish(room_id, _encode(event), keep=isinstance(event, TranscriptFinal))

    async def deleted(self, room_id: uuid.UUID, by: uuid.UUID) -> None:
        """The transcript was deleted: the finals kept for replay go too, then everyone hears."""
        name = topic("room", room_id)
        try:
            await self._log.forget(name, frozenset({"transcript.final"}))
        except (RedisError, OSError) as exc:
            log.warning("transcript_finals_not_forgotten", error=type(exc).__name__)
        await self._publish(room_id, _encode(TranscriptDeletedEvent(by=by)), keep=True)

    async def _publish(self, room_id: uuid.UUID, event: bytes, *, keep: bool) -> None:
        name = topic("room", room_id)
        try:
            if keep:
                await self._log.publish(name, event)
            else:
                await self._log.publish_ephemeral(name, event)
        except (RedisError, OSError) as exc:
            log.warning("transcription_event_not_published", error=type(exc).__name__)

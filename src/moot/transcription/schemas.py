"""Transcript segments: the final ones the worker stores, and the form the API returns."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec


class Segment(msgspec.Struct, frozen=True):
    """A final segment on its way to the database. Offsets are seconds since the room was
    created, so segments of several transcription sessions share one timeline."""

    room_id: uuid.UUID
    participant_id: uuid.UUID | None
    utterance_id: str
    text: str
    language: str | None
    started_at: float
    ended_at: float | None


class TranscriptSegment(msgspec.Struct, kw_only=True):
    id: int
    participant_id: uuid.UUID | None
    display_name: str | None  # the speaker's name at their latest seat in the room
    utterance_id: str
    text: str
    language: str | None
    started_at: float
    ended_at: float | None
    created_at: datetime


class TranscriptPage(msgspec.Struct, kw_only=True):
    items: list[TranscriptSegment]
    has_more: bool
    next_after: int | None  # pass back as `after` for the next page; None on the last page

"""Identity payloads."""

from __future__ import annotations

import uuid

import msgspec


class Identity(msgspec.Struct, frozen=True):
    participant_id: uuid.UUID
    token: str

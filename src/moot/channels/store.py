"""SQL for channels and channel_members, and the Redis keys of slow mode. Every SQL function
takes the connection to run on, so the service decides what shares a transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from redis.asyncio import Redis

from moot.channels.schemas import ChannelKind
from moot.spaces.schemas import Role

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


@dataclass(frozen=True, slots=True)
class Channel:
    id: uuid.UUID
    space_id: uuid.UUID
    kind: ChannelKind
    name: str
    topic: str
    position: int
    private: bool
    roles: tuple[Role, ...]
    member_ids: frozenset[uuid.UUID]
    slow_mode_seconds: int
    created_at: datetime
    updated_at: datetime


_CHANNEL = """
    SELECT c.*, coalesce((SELECT array_agg(m.account_id ORDER BY m.account_id)
                          FROM channel_members m WHERE m.channel_id = c.id), '{}') AS member_ids
    FROM channels c
"""


def _channel(row: asyncpg.Record) -> Channel:
    return Channel(
        id=row["id"],
        space_id=row["space_id"],
        kind=row["kind"],
        name=row["name"],
        topic=row["topic"],
        position=row["position"],
        private=row["private"],
        roles=tuple(row["roles"]),
        member_ids=frozenset(row["member_ids"]),
        slow_mode_seconds=row["slow_mode_seconds"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def insert_channel(
    conn: Conn,
    channel_id: uuid.UUID,
    space_id: uuid.UUID,
    *,
    kind: ChannelKind,
    name: str,
    topic: str,
    position: int | None,
    private: bool,
    roles: Sequence[Role],
    slow_mode_seconds: int,
    created_by: uuid.UUID,
) -> None:
    await conn.execute(
        """
        INSERT INTO channels (id, space_id, kind, name, topic, position, private, roles,
                              slow_mode_seconds, created_by)
        VALUES ($1, $2, $3, $4, $5,
                coalesce($6, (SELECT coalesce(max(position) + 1, 0) FROM channels
                              WHERE space_id = $2)),
                $7, $8, $9, $10)
        """,
        channel_id,
        space_id,
        kind,
        name,
        topic,
        position,
        private,
        list(roles),
        slow_mode_seconds,
        created_by,
    )


async def set_members(conn: Conn, channel_id: uuid.UUID, account_ids: Sequence[uuid.UUID]) -> None:
    await conn.execute("DELETE FROM channel_members WHERE channel_id = $1", channel_id)
    await conn.executemany(
        "INSERT INTO channel_members (channel_id, account_id) VALUES ($1, $2)",
        [(channel_id, account_id) for account_id in dict.fromkeys(account_ids)],
    )


async def channel(conn: Conn, channel_id: uuid.UUID, *, lock: bool = False) -> Channel | None:
    if lock:
        await conn.execute("SELECT 1 FROM channels WHERE id = $1 FOR UPDATE", channel_id)
    row = await conn.fetchrow(f"{_CHANNEL} WHERE c.id = $1", channel_id)
    return _channel(row) if row else None


async def channels(conn: Conn, channel_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Channel]:
    rows = await conn.fetch(f"{_CHANNEL} WHERE c.id = ANY($1::uuid[])", list(channel_ids))
    return {row["id"]: _channel(row) for row in rows}


async def channels_of_space(conn: Conn, space_id: uuid.UUID) -> list[Channel]:
    rows = await conn.fetch(
        f"{_CHANNEL} WHERE c.space_id = $1 ORDER BY c.position, c.created_at, c.id", space_id
    )
    return [_channel(row) for row in rows]


async def update_channel(conn: Conn, channel_id: uuid.UUID, changes: dict[str, Any]) -> None:
    """Set the given columns (names from the service, never from the client)."""
    if not changes:
        return
    columns = list(changes)
    assignments = ", ".join(f"{column} = ${i + 2}" for i, column in enumerate(columns))
    await conn.execute(
        f"UPDATE channels SET {assignments}, updated_at = now() WHERE id = $1",
        channel_id,
        *(changes[column] for column in columns),
    )


class SlowMode:
    """One key per channel and member while they must wait (`SET NX EX`): every instance
    sees the same wait."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def take(self, channel_id: uuid.UUID, account_id: uuid.UUID, seconds: int) -> int:
        """0 if the member may post now (the wait starts), else the seconds left."""
        key = f"channel:{channel_id}:slow:{account_id}"
        if await self._redis.set(key, b"1", nx=True, ex=seconds):
            return 0
        left: int = await self._redis.ttl(key)
        return max(left, 1)

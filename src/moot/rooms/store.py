"""SQL for rooms and room_participants. Every function takes the connection to run on, so the
service decides what shares a transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import msgspec

from moot.rooms.schemas import DELETED_ACCOUNT_NAME, ParticipantView, RoomView

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

_ROOM_COLUMNS = """
    r.id, r.code, r.title, r.description, r.status, r.locked, r.max_participants,
    r.created_at, r.expires_at, r.ended_at, r.livekit_room_name,
    (SELECT count(*) FROM room_participants p
      WHERE p.room_id = r.id AND p.left_at IS NULL)::int AS participant_count
"""

_PARTICIPANT_FIELDS = ("participant_id", "display_name", "role", "joined_at")
_PARTICIPANT_COLUMNS = ", ".join(_PARTICIPANT_FIELDS)


# Rows become views by field name (columns a view does not have, such as a seat's id, are
# ignored), with msgspec checking each value's type.


def room_view(row: asyncpg.Record) -> RoomView:
    return msgspec.convert(dict(row), RoomView)


def participant_view(row: asyncpg.Record) -> ParticipantView:
    return msgspec.convert(dict(row), ParticipantView)


async def insert_room(
    conn: Conn,
    *,
    code: str,
    livekit_room_name: str,
    title: str,
    description: str | None,
    max_participants: int,
    expires_at: datetime | None,
    persistent: bool = False,
) -> uuid.UUID | None:
    """Insert a room; None when the code is already taken (the caller draws another)."""
    room_id: uuid.UUID | None = await conn.fetchval(
        """
        INSERT INTO rooms (code, livekit_room_name, title, description, max_participants,
                           expires_at, persistent)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (code) DO NOTHING
        RETURNING id
        """,
        code,
        livekit_room_name,
        title,
        description,
        max_participants,
        expires_at,
        persistent,
    )
    return room_id


async def find_room_id(
    conn: Conn, *, room_id: uuid.UUID | None, code: str | None
) -> tuple[uuid.UUID, bool] | None:
    """(the room's id, whether it is kept), or None if there is no such room."""
    if room_id is not None:
        row = await conn.fetchrow("SELECT id, persistent FROM rooms WHERE id = $1", room_id)
    else:
        row = await conn.fetchrow("SELECT id, persistent FROM rooms WHERE code = $1", code)
    return (row["id"], row["persistent"]) if row else None


async def get_rooms(conn: Conn, room_ids: list[uuid.UUID]) -> list[RoomView]:
    rows = await conn.fetch(
        f"SELECT {_ROOM_COLUMNS} FROM rooms r WHERE r.id = ANY($1::uuid[])", room_ids
    )
    return [room_view(row) for row in rows]


async def delete_room(conn: Conn, room_id: uuid.UUID) -> None:
    """Delete a room with everything that hangs on it (seats, transcript)."""
    await conn.execute("DELETE FROM rooms WHERE id = $1", room_id)


async def get_room(conn: Conn, room_id: uuid.UUID) -> RoomView | None:
    row = await conn.fetchrow(f"SELECT {_ROOM_COLUMNS} FROM rooms r WHERE r.id = $1", room_id)
    return room_view(row) if row else None


async def room_and_seat(
    conn: Conn, room_id: uuid.UUID, participant_id: uuid.UUID
) -> tuple[RoomView, ParticipantView | None] | None:
    """The room and this participant's active seat in it (None if they hold none), in one
    round trip; None if there is no such room."""
    row = await conn.fetchrow(
        f"""
        SELECT {_ROOM_COLUMNS}, seat.participant_id, seat.display_name, seat.role,
               seat.joined_at
        FROM rooms r
        LEFT JOIN room_participants seat
          ON seat.room_id = r.id AND seat.participant_id = $2 AND seat.left_at IS NULL
        WHERE r.id = $1
        """,
        room_id,
        participant_id,
    )
    if row is None:
        return None
    return room_view(row), participant_view(row) if row["participant_id"] is not None else None


async def lock_room(conn: Conn, room_id: uuid.UUID) -> asyncpg.Record | None:
    """Take the room's row lock: joins, leaves and host actions on one room run one at a time."""
    return await conn.fetchrow(
        """
        SELECT id, status, locked, max_participants, livekit_room_name, persistent
        FROM rooms WHERE id = $1 FOR UPDATE
        """,
        room_id,
    )


async def touch_room(conn: Conn, room_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE rooms SET last_activity_at = now(), updated_at = now() WHERE id = $1", room_id
    )


async def active_seat(
    conn: Conn, room_id: uuid.UUID, participant_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""
        SELECT id, livekit_sid, {_PARTICIPANT_COLUMNS} FROM room_participants
        WHERE room_id = $1 AND participant_id = $2 AND left_at IS NULL
        """,
        room_id,
        participant_id,
    )


async def present_ids(conn: Conn, room_id: uuid.UUID) -> frozenset[uuid.UUID]:
    """Everyone holding a seat in the room now (nobody, once it ended)."""
    rows = await conn.fetch(
        "SELECT participant_id FROM room_participants WHERE room_id = $1 AND left_at IS NULL",
        room_id,
    )
    return frozenset(row["participant_id"] for row in rows)


async def attendees(
    conn: Conn, room_id: uuid.UUID, participant_ids: list[uuid.UUID]
) -> frozenset[uuid.UUID]:
    """Of these participants, those who hold or held a seat in the room and were never
    removed from it: the people who were in the meeting."""
    rows = await conn.fetch(
        """
        SELECT participant_id FROM room_participants
        WHERE room_id = $1 AND participant_id = ANY($2::uuid[])
        GROUP BY participant_id
        HAVING bool_and(left_reason IS DISTINCT FROM 'removed')
        """,
        room_id,
        participant_ids,
    )
    return frozenset(row["participant_id"] for row in rows)


async def latest_host(conn: Conn, room_id: uuid.UUID) -> uuid.UUID | None:
    """The room's host now, or, in a room nobody holds a seat in (an ended one), whoever held
    the role last."""
    host: uuid.UUID | None = await conn.fetchval(
        """
        SELECT participant_id FROM room_participants
        WHERE room_id = $1 AND role = 'host'
        ORDER BY left_at DESC NULLS FIRST, joined_at DESC, id DESC
        LIMIT 1
        """,
        room_id,
    )
    return host


async def latest_seats(
    conn: Conn, room_ids: list[uuid.UUID], participant_ids: list[uuid.UUID]
) -> list[asyncpg.Record]:
    """For each (room, participant) pair, in one statement: the room's status (None: no such
    room) and the participant's latest seat there (joined_at None: never seated)."""
    return await conn.fetch(
        """
        SELECT q.room_id, q.participant_id, r.status AS room_status,
               latest.joined_at, latest.left_at, latest.left_reason
        FROM unnest($1::uuid[], $2::uuid[]) AS q(room_id, participant_id)
        LEFT JOIN rooms r ON r.id = q.room_id
        LEFT JOIN LATERAL (
            SELECT p.joined_at, p.left_at, p.left_reason FROM room_participants p
            WHERE p.room_id = q.room_id AND p.participant_id = q.participant_id
            ORDER BY p.joined_at DESC, p.id DESC
            LIMIT 1
        ) latest ON true
        """,
        room_ids,
        participant_ids,
    )


async def join_room(
    conn: Conn,
    *,
    room_id: uuid.UUID,
    participant_id: uuid.UUID,
    display_name: str,
    client_ip: str | None,
    user_agent: str | None,
    may_take_seat: bool,
    mesh_limit: int | None,
) -> asyncpg.Record:
    """Join or re-join in one round trip: `moot_join_room` (migrations/0003_join_room.sql)
    takes the room's lock, decides, takes or renames the seat, and returns the outcome with
    the room and the seat."""
    row = await conn.fetchrow(
        "SELECT * FROM moot_join_room($1, $2, $3, $4::inet, $5, $6, $7)",
        room_id,
        participant_id,
        display_name,
        client_ip,
        user_agent,
        may_take_seat,
        mesh_limit,
    )
    assert row is not None  # one row, always
    return row


async def insert_participant(
    conn: Conn,
    *,
    room_id: uuid.UUID,
    participant_id: uuid.UUID,
    display_name: str,
    role: str,
    client_ip: str | None,
    user_agent: str | None,
) -> ParticipantView:
    row = await conn.fetchrow(
        f"""
        INSERT INTO room_participants (room_id, participant_id, display_name, role,
                                       client_ip, user_agent)
        VALUES ($1, $2, $3, $4, $5::inet, $6)
        RETURNING {_PARTICIPANT_COLUMNS}
        """,
        room_id,
        participant_id,
        display_name,
        role,
        client_ip,
        user_agent,
    )
    assert row is not None
    return participant_view(row)


async def release_seat(conn: Conn, seat_id: uuid.UUID, reason: str) -> None:
    await conn.execute(
        """
        UPDATE room_participants SET left_at = now(), left_reason = $2 WHERE id = $1
        """,
        seat_id,
        reason,
    )


async def set_role(conn: Conn, seat_id: uuid.UUID, role: str) -> ParticipantView:
    row = await conn.fetchrow(
        f"UPDATE room_participants SET role = $2 WHERE id = $1 RETURNING {_PARTICIPANT_COLUMNS}",
        seat_id,
        role,
    )
    assert row is not None
    return participant_view(row)


async def earliest_active_seat(conn: Conn, room_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""
        SELECT id, {_PARTICIPANT_COLUMNS} FROM room_participants
        WHERE room_id = $1 AND left_at IS NULL
        ORDER BY joined_at, id
        LIMIT 1
        """,
        room_id,
    )


async def list_active(conn: Conn, room_id: uuid.UUID) -> list[ParticipantView]:
    rows = await conn.fetch(
        f"""
        SELECT {_PARTICIPANT_COLUMNS} FROM room_participants
        WHERE room_id = $1 AND left_at IS NULL
        ORDER BY joined_at, id
        """,
        room_id,
    )
    return [participant_view(r) for r in rows]


async def set_locked(conn: Conn, room_id: uuid.UUID, locked: bool) -> None:
    await conn.execute(
        "UPDATE rooms SET locked = $2, updated_at = now(), last_activity_at = now() WHERE id = $1",
        room_id,
        locked,
    )


async def end_room(conn: Conn, room_id: uuid.UUID, reason: str) -> None:
    await conn.execute(
        """
        UPDATE rooms SET status = 'ended', ended_at = now(), end_reason = $2, updated_at = now()
        WHERE id = $1 AND status = 'active'
        """,
        room_id,
        reason,
    )
    await conn.execute(
        """
        UPDATE room_participants
        SET left_at = now(), left_reason = 'room_ended'
        WHERE room_id = $1 AND left_at IS NULL
        """,
        room_id,
    )


async def release_all_seats(conn: Conn, room_id: uuid.UUID) -> list[ParticipantView]:
    """Everyone in the room leaves as the meeting ends (a kept room stays active)."""
    rows = await conn.fetch(
        f"""
        UPDATE room_participants
        SET left_at = now(), left_reason = 'room_ended'
        WHERE room_id = $1 AND left_at IS NULL
        RETURNING {_PARTICIPANT_COLUMNS}
        """,
        room_id,
    )
    return [participant_view(r) for r in rows]


async def count_activity(conn: Conn) -> tuple[int, int]:
    row = await conn.fetchrow(
        """
        SELECT (SELECT count(*) FROM rooms WHERE status = 'active')::int AS rooms,
               (SELECT count(*) FROM room_participants p JOIN rooms r ON r.id = p.room_id
                 WHERE p.left_at IS NULL AND r.status = 'active')::int AS participants
        """
    )
    assert row is not None
    return row["rooms"], row["participants"]


async def find_by_livekit_name(conn: Conn, livekit_room_name: str) -> uuid.UUID | None:
    room_id: uuid.UUID | None = await conn.fetchval(
        "SELECT id FROM rooms WHERE livekit_room_name = $1", livekit_room_name
    )
    return room_id


async def set_livekit_sid(
    conn: Conn, room_id: uuid.UUID, participant_id: uuid.UUID, sid: str
) -> bool:
    """Record the LiveKit session of a participant's active seat; False if there is none."""
    status = await conn.execute(
        """
        UPDATE room_participants SET livekit_sid = $3
        WHERE room_id = $1 AND participant_id = $2 AND left_at IS NULL
        """,
        room_id,
        participant_id,
        sid,
    )
    return bool(status != "UPDATE 0")


async def livekit_room_names(conn: Conn, room_ids: list[uuid.UUID]) -> list[str]:
    rows = await conn.fetch(
        "SELECT livekit_room_name FROM rooms WHERE id = ANY($1::uuid[])", room_ids
    )
    return [row["livekit_room_name"] for row in rows]


async def present_or_host(
    conn: Conn, room_id: uuid.UUID, preferred: uuid.UUID | None
) -> uuid.UUID | None:
    """`preferred` if they hold a seat in the room, else the room's host (None if none)."""
    found: uuid.UUID | None = await conn.fetchval(
        """
        SELECT participant_id FROM room_participants
        WHERE room_id = $1 AND left_at IS NULL AND (participant_id = $2 OR role = 'host')
        ORDER BY participant_id = $2 DESC NULLS LAST
        LIMIT 1
        """,
        room_id,
        preferred,
    )
    return found


async def rooms_of(conn: Conn, participant_id: uuid.UUID) -> list[asyncpg.Record]:
    """Each room the participant ever sat in: its id and, if they sit there now in a meeting
    still going, their seat (the participant columns; NULL otherwise)."""
    return await conn.fetch(
        f"""
        SELECT DISTINCT ON (p.room_id) p.room_id,
               (p.left_at IS NULL AND r.status = 'active') AS seated,
               {", ".join(f"p.{field}" for field in _PARTICIPANT_FIELDS)}
        FROM room_participants p JOIN rooms r ON r.id = p.room_id
        WHERE p.participant_id = $1
        ORDER BY p.room_id, p.left_at IS NULL DESC, p.joined_at DESC
        """,
        participant_id,
    )


async def forget_account(conn: Conn, account_id: uuid.UUID) -> None:
    """An account is being deleted: its seats keep their place in each room's history (and
    its transcript lines their speaker) but lose its name, address and browser."""
    await conn.execute(
        """
        UPDATE room_participants
        SET display_name = $2, client_ip = NULL, user_agent = NULL
        WHERE account_id = $1
        """,
        account_id,
        DELETED_ACCOUNT_NAME,
    )

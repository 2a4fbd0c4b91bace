"""SQL for spaces, space_members, active_spaces, space_invites, and the space meetings'
space_rooms, space_sessions and space_session_attendees. Every function takes the connection
to run on, so the service decides what shares a transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from moot.spaces.schemas import AttendeeView, InviteView, MemberView, Role, SpaceView

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

# The caller's spaces with their role, member count and whether each is the active one
# (the chosen one, or else the earliest joined).
_SPACES_OF = """
    WITH mine AS (
        SELECT s.id, s.name, s.created_at, s.members_only, s.session_retention_days,
               m.role, m.joined_at,
               (SELECT count(*) FROM space_members c WHERE c.space_id = s.id)::int
                   AS member_count
        FROM space_members m JOIN spaces s ON s.id = m.space_id
        WHERE m.account_id = $1
    ), chosen AS (
        SELECT coalesce(
            (SELECT a.space_id FROM active_spaces a JOIN mine ON mine.id = a.space_id
             WHERE a.account_id = $1),
            (SELECT id FROM mine ORDER BY joined_at, id LIMIT 1)) AS id
    )
    SELECT mine.*, mine.id = chosen.id AS active FROM mine, chosen
"""


def space_view(row: asyncpg.Record) -> SpaceView:
    return SpaceView(
        id=row["id"],
        name=row["name"],
        role=row["role"],
        member_count=row["member_count"],
        active=row["active"],
        created_at=row["created_at"],
        members_only=row["members_only"],
        session_retention_days=row["session_retention_days"],
    )


def invite_view(row: asyncpg.Record) -> InviteView:
    return InviteView(
        code=row["code"],
        space_id=row["space_id"],
        max_uses=row["max_uses"],
        uses=row["uses"],
        expires_at=row["expires_at"],
        created_at=row["created_at"],
    )


async def create_space(conn: Conn, name: str, owner: uuid.UUID) -> uuid.UUID:
    space_id: uuid.UUID = await conn.fetchval(
        "INSERT INTO spaces (name) VALUES ($1) RETURNING id", name
    )
    await add_member(conn, space_id, owner, "owner")
    return space_id


async def spaces_of(conn: Conn, account_id: uuid.UUID) -> list[SpaceView]:
    rows = await conn.fetch(f"{_SPACES_OF} ORDER BY mine.joined_at, mine.id", account_id)
    return [space_view(row) for row in rows]


async def space_of(conn: Conn, account_id: uuid.UUID, space_id: uuid.UUID) -> SpaceView | None:
    row = await conn.fetchrow(f"{_SPACES_OF} WHERE mine.id = $2", account_id, space_id)
    return space_view(row) if row else None


async def count_spaces(conn: Conn, account_id: uuid.UUID) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM space_members WHERE account_id = $1", account_id
    )
    return count


async def role_in(
    conn: Conn, space_id: uuid.UUID, account_id: uuid.UUID, *, lock: bool = False
) -> Role | None:
    """The account's role in the space (None if not a member); `lock` takes the space's row
    lock first, so membership changes to one space run one at a time."""
    if lock:
        await conn.execute("SELECT 1 FROM spaces WHERE id = $1 FOR UPDATE", space_id)
    role: Role | None = await conn.fetchval(
        "SELECT role FROM space_members WHERE space_id = $1 AND account_id = $2",
        space_id,
        account_id,
    )
    return role


async def rename_space(conn: Conn, space_id: uuid.UUID, name: str) -> None:
    await conn.execute(
        "UPDATE spaces SET name = $2, updated_at = now() WHERE id = $1", space_id, name
    )


async def delete_space(conn: Conn, space_id: uuid.UUID) -> list[uuid.UUID]:
    """Delete the space; the members it had (to give anyone left without one a new one)."""
    members = await conn.fetch("SELECT account_id FROM space_members WHERE space_id = $1", space_id)
    await conn.execute("DELETE FROM spaces WHERE id = $1", space_id)
    return [row["account_id"] for row in members]


async def set_active(conn: Conn, account_id: uuid.UUID, space_id: uuid.UUID) -> None:
    await conn.execute(
        """
        INSERT INTO active_spaces (account_id, space_id) VALUES ($1, $2)
        ON CONFLICT (account_id) DO UPDATE SET space_id = excluded.space_id
        """,
        account_id,
        space_id,
    )


# -- members -------------------------------------------------------------------------------


async def add_member(conn: Conn, space_id: uuid.UUID, account_id: uuid.UUID, role: Role) -> bool:
    """Add the account; False if it was a member already."""
    added = await conn.fetchval(
        """
        INSERT INTO space_members (space_id, account_id, role) VALUES ($1, $2, $3)
        ON CONFLICT DO NOTHING
        RETURNING 1
        """,
        space_id,
        account_id,
        role,
    )
    return added is not None


async def list_members(conn: Conn, space_id: uuid.UUID) -> list[MemberView]:
    rows = await conn.fetch(
        """
        SELECT m.account_id, a.display_name, m.role, m.joined_at
        FROM space_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.space_id = $1
        ORDER BY m.joined_at, m.account_id
        """,
        space_id,
    )
    return [
        MemberView(
            account_id=r["account_id"],
            display_name=r["display_name"],
            role=r["role"],
            joined_at=r["joined_at"],
        )
        for r in rows
    ]


async def set_role(conn: Conn, space_id: uuid.UUID, account_id: uuid.UUID, role: Role) -> None:
    await conn.execute(
        "UPDATE space_members SET role = $3 WHERE space_id = $1 AND account_id = $2",
        space_id,
        account_id,
        role,
    )


async def remove_member(conn: Conn, space_id: uuid.UUID, account_id: uuid.UUID) -> None:
    await conn.execute(
        "DELETE FROM space_members WHERE space_id = $1 AND account_id = $2", space_id, account_id
    )


async def owned_spaces(conn: Conn, account_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT space_id FROM space_members WHERE account_id = $1 AND role = 'owner'", account_id
    )
    return [row["space_id"] for row in rows]


async def successor(conn: Conn, space_id: uuid.UUID, leaving: uuid.UUID) -> uuid.UUID | None:
    """Who inherits a space its owner leaves for good: the earliest admin, else the earliest
    member."""
    found: uuid.UUID | None = await conn.fetchval(
        """
        SELECT account_id FROM space_members WHERE space_id = $1 AND account_id <> $2
        ORDER BY role = 'admin' DESC, joined_at, account_id LIMIT 1
        """,
        space_id,
        leaving,
    )
    return found


# -- invites -------------------------------------------------------------------------------


async def insert_invite(
    conn: Conn,
    *,
    code: str,
    space_id: uuid.UUID,
    created_by: uuid.UUID,
    max_uses: int | None,
    expires_at: datetime | None,
) -> InviteView:
    row = await conn.fetchrow(
        """
        INSERT INTO space_invites (code, space_id, created_by, max_uses, expires_at)
        VALUES ($1, $2, $3, $4, $5)
        RETURNING *
        """,
        code,
        space_id,
        created_by,
        max_uses,
        expires_at,
    )
    assert row is not None
    return invite_view(row)


async def find_invite(conn: Conn, code: str) -> asyncpg.Record | None:
    """The invite with its space's name and size, and whether it has expired or is used up."""
    row: asyncpg.Record | None = await conn.fetchrow(
        """
        SELECT i.*, s.name,
               (SELECT count(*) FROM space_members m WHERE m.space_id = s.id)::int
                   AS member_count,
               i.expires_at IS NOT NULL AND i.expires_at <= now() AS expired,
               i.max_uses IS NOT NULL AND i.uses >= i.max_uses AS used_up
        FROM space_invites i JOIN spaces s ON s.id = i.space_id
        WHERE i.code = $1
        """,
        code,
    )
    return row


async def use_invite(conn: Conn, code: str) -> bool:
    """Count one use if the invite still allows one. One conditional UPDATE: concurrent
    accepts queue on the row, and each re-checks `uses < max_uses` on the version the one
    before it left, so a 10-use invite admits exactly 10."""
    used = await conn.fetchval(
        """
        UPDATE space_invites SET uses = uses + 1
        WHERE code = $1
          AND (max_uses IS NULL OR uses < max_uses)
          AND (expires_at IS NULL OR expires_at > now())
        RETURNING 1
        """,
        code,
    )
    return used is not None


async def delete_invite(conn: Conn, space_id: uuid.UUID, code: str) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM space_invites WHERE space_id = $1 AND code = $2 RETURNING 1", space_id, code
    )
    return deleted is not None


async def update_settings(
    conn: Conn, space_id: uuid.UUID, members_only: bool, retention_days: int | None
) -> None:
    await conn.execute(
        """
        UPDATE spaces SET members_only = $2, session_retention_days = $3, updated_at = now()
        WHERE id = $1
        """,
        space_id,
        members_only,
        retention_days,
    )


async def settings_of(conn: Conn, space_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT name, members_only, session_retention_days FROM spaces WHERE id = $1", space_id
    )


async def memberships(
    conn: Conn, pairs: list[tuple[uuid.UUID, uuid.UUID]]
) -> list[tuple[uuid.UUID, uuid.UUID, bool]]:
    """For each (space, account) pair, in one statement: whether the account is a member."""
    rows = await conn.fetch(
        """
        SELECT q.space_id, q.account_id, m.role IS NOT NULL AS member
        FROM unnest($1::uuid[], $2::uuid[]) AS q(space_id, account_id)
        LEFT JOIN space_members m ON m.space_id = q.space_id AND m.account_id = q.account_id
        """,
        [space for space, _ in pairs],
        [account for _, account in pairs],
    )
    return [(r["space_id"], r["account_id"], r["member"]) for r in rows]


async def member_ids(conn: Conn, space_id: uuid.UUID) -> set[uuid.UUID]:
    rows = await conn.fetch("SELECT account_id FROM space_members WHERE space_id = $1", space_id)
    return {row["account_id"] for row in rows}


async def forget_attendee(conn: Conn, account_id: uuid.UUID, name: str) -> None:
    """An account is being deleted: its stays in past meetings keep their place, not its name."""
    await conn.execute(
        "UPDATE space_session_attendees SET display_name = $2 WHERE account_id = $1",
        account_id,
        name,
    )


# -- space rooms -----------------------------------------------------------------------------


async def add_room(
    conn: Conn, room_id: uuid.UUID, space_id: uuid.UUID, created_by: uuid.UUID
) -> None:
    await conn.execute(
        "INSERT INTO space_rooms (room_id, space_id, created_by) VALUES ($1, $2, $3)",
        room_id,
        space_id,
        created_by,
    )


async def room_ids(conn: Conn, space_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT room_id FROM space_rooms WHERE space_id = $1 ORDER BY created_at, room_id",
        space_id,
    )
    return [row["room_id"] for row in rows]


async def room_space(
    conn: Conn, room_id: uuid.UUID, *, share_lock: bool = False
) -> asyncpg.Record | None:
    """The space a room belongs to (space_id, members_only), or None. `share_lock` holds the
    space's row until the transaction ends: membership changes (which take its row lock) wait,
    so what was checked stays true until then."""
    lock = " FOR SHARE OF s" if share_lock else ""
    return await conn.fetchrow(
        f"""
        SELECT sr.space_id, s.members_only FROM space_rooms sr JOIN spaces s ON s.id = sr.space_id
        WHERE sr.room_id = $1{lock}
        """,
        room_id,
    )


# -- sessions and who came -------------------------------------------------------------------

_ATTENDEE_COLUMNS = "participant_id, account_id, display_name, joined_at, left_at"


def attendee_view(row: asyncpg.Record) -> AttendeeView:
    return AttendeeView(
        participant_id=row["participant_id"],
        account_id=row["account_id"],
        display_name=row["display_name"],
        joined_at=row["joined_at"],
        left_at=row["left_at"],
    )


async def running_session(conn: Conn, room_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT id, space_id, started_at FROM space_sessions
        WHERE room_id = $1 AND ended_at IS NULL
        """,
        room_id,
    )


async def start_session(conn: Conn, space_id: uuid.UUID, room_id: uuid.UUID) -> asyncpg.Record:
    row = await conn.fetchrow(
        """
        INSERT INTO space_sessions (space_id, room_id) VALUES ($1, $2)
        RETURNING id, space_id, started_at
        """,
        space_id,
        room_id,
    )
    assert row is not None
    return row


async def end_session(conn: Conn, session_id: uuid.UUID, reason: str) -> datetime:
    ended: datetime = await conn.fetchval(
        """
        UPDATE space_sessions SET ended_at = now(), end_reason = $2 WHERE id = $1
        RETURNING ended_at
        """,
        session_id,
        reason,
    )
    await conn.execute(
        """
        UPDATE space_session_attendees SET left_at = now()
        WHERE session_id = $1 AND left_at IS NULL
        """,
        session_id,
    )
    return ended


async def arrive(
    conn: Conn,
    session_id: uuid.UUID,
    participant_id: uuid.UUID,
    display_name: str,
    joined_at: datetime,
) -> None:
    """Someone is in the meeting: a new stay, or a new name on their current one. The account
    is recorded when the participant id is an account's (a signed-in caller's)."""
    await conn.execute(
        """
        INSERT INTO space_session_attendees
            (session_id, participant_id, account_id, display_name, joined_at)
        VALUES ($1, $2, (SELECT a.id FROM accounts a WHERE a.id = $2), $3, $4)
        ON CONFLICT (session_id, participant_id) WHERE left_at IS NULL
        DO UPDATE SET display_name = excluded.display_name
        """,
        session_id,
        participant_id,
        display_name,
        joined_at,
    )


async def depart(conn: Conn, session_id: uuid.UUID, participant_ids: list[uuid.UUID]) -> None:
    await conn.execute(
        """
        UPDATE space_session_attendees SET left_at = now()
        WHERE session_id = $1 AND participant_id = ANY($2::uuid[]) AND left_at IS NULL
        """,
        session_id,
        participant_ids,
    )


async def present(conn: Conn, session_id: uuid.UUID) -> list[AttendeeView]:
    rows = await conn.fetch(
        f"""
        SELECT {_ATTENDEE_COLUMNS} FROM space_session_attendees
        WHERE session_id = $1 AND left_at IS NULL ORDER BY joined_at, id
        """,
        session_id,
    )
    return [attendee_view(row) for row in rows]


async def attendees(
    conn: Conn, session_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[AttendeeView]]:
    rows = await conn.fetch(
        f"""
        SELECT session_id, {_ATTENDEE_COLUMNS} FROM space_session_attendees
        WHERE session_id = ANY($1::uuid[]) ORDER BY joined_at, id
        """,
        session_ids,
    )
    found: dict[uuid.UUID, list[AttendeeView]] = {sid: [] for sid in session_ids}
    for row in rows:
        found[row["session_id"]].append(attendee_view(row))
    return found


async def running_in(conn: Conn, room_ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT id, room_id, started_at FROM space_sessions
        WHERE room_id = ANY($1::uuid[]) AND ended_at IS NULL
        """,
        room_ids,
    )


# A session's transcript is its room's segments stored from its start until the room's next
# session started (`window_end`; None: none has yet).
_SESSION_COLUMNS = """
    s.id, s.space_id, s.room_id, s.started_at, s.ended_at, s.end_reason,
    (SELECT min(n.started_at) FROM space_sessions n
      WHERE n.room_id = s.room_id AND n.started_at > s.started_at) AS window_end
"""


async def list_sessions(
    conn: Conn,
    space_id: uuid.UUID,
    *,
    before: uuid.UUID | None,
    room_id: uuid.UUID | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first; `before` is the id of the last session of the previous page (a session
    of another space matches nothing: the page is empty)."""
    return await conn.fetch(
        f"""
        SELECT {_SESSION_COLUMNS} FROM space_sessions s
        WHERE s.space_id = $1
          AND ($2::uuid IS NULL OR s.room_id = $2)
          AND ($3::uuid IS NULL OR (s.started_at, s.id) < (
                SELECT c.started_at, c.id FROM space_sessions c
                WHERE c.id = $3 AND c.space_id = $1))
        ORDER BY s.started_at DESC, s.id DESC
        LIMIT $4
        """,
        space_id,
        room_id,
        before,
        limit,
    )


async def get_session(
    conn: Conn, space_id: uuid.UUID, session_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""
        SELECT {_SESSION_COLUMNS} FROM space_sessions s
        WHERE s.id = $2 AND s.space_id = $1{" FOR UPDATE" if lock else ""}
        """,
        space_id,
        session_id,
    )


async def delete_sessions(conn: Conn, session_ids: list[uuid.UUID]) -> None:
    await conn.execute("DELETE FROM space_sessions WHERE id = ANY($1::uuid[])", session_ids)


async def expired_sessions(conn: Conn) -> list[asyncpg.Record]:
    """Ended sessions older than their space keeps them, with their transcript windows."""
    return await conn.fetch(
        f"""
        SELECT {_SESSION_COLUMNS} FROM space_sessions s JOIN spaces sp ON sp.id = s.space_id
        WHERE sp.session_retention_days IS NOT NULL
          AND s.ended_at < now() - make_interval(days => sp.session_retention_days)
        ORDER BY s.started_at
        FOR UPDATE OF s SKIP LOCKED
        """
    )

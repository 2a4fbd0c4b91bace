"""SQL for spaces, space_members, active_spaces and space_invites. Every function takes the
connection to run on, so the service decides what shares a transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from moot.spaces.schemas import InviteView, MemberView, Role, SpaceView

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

# The caller's spaces with their role, member count and whether each is the active one
# (the chosen one, or else the earliest joined).
_SPACES_OF = """
    WITH mine AS (
        SELECT s.id, s.name, s.created_at, m.role, m.joined_at,
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

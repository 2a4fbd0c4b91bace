"""SQL for accounts and account_sessions. Every function takes the connection to run on, so
the service decides what shares a transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from moot.accounts.schemas import AccountView

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


def account_view(row: asyncpg.Record) -> AccountView:
    return AccountView(id=row["id"], email=row["email"], display_name=row["display_name"])


async def insert_account(
    conn: Conn, *, email: str, password_hash: str, display_name: str
) -> asyncpg.Record | None:
    """The new account's row; None when the email is taken (in any capitalisation)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        """
        INSERT INTO accounts (email, password_hash, display_name) VALUES ($1, $2, $3)
        ON CONFLICT ((lower(email))) DO NOTHING
        RETURNING id, email, display_name
        """,
        email,
        password_hash,
        display_name,
    )
    return row


async def find_by_email(conn: Conn, email: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        """
        SELECT id, email, display_name, password_hash FROM accounts
        WHERE lower(email) = lower($1)
        """,
        email,
    )
    return row


async def get_account(conn: Conn, account_id: uuid.UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT id, email, display_name, password_hash FROM accounts WHERE id = $1", account_id
    )
    return row


async def update_account(
    conn: Conn, account_id: uuid.UUID, *, email: str | None, display_name: str | None
) -> asyncpg.Record | None:
    """Apply the fields given; None when the new email belongs to another account."""
    try:
        row: asyncpg.Record | None = await conn.fetchrow(
            """
            UPDATE accounts SET email = coalesce($2, email),
                                display_name = coalesce($3, display_name),
                                updated_at = now()
            WHERE id = $1
            RETURNING id, email, display_name
            """,
            account_id,
            email,
            display_name,
        )
    except asyncpg.UniqueViolationError:
        return None
    return row


async def set_password_hash(conn: Conn, account_id: uuid.UUID, password_hash: str) -> None:
    await conn.execute(
        "UPDATE accounts SET password_hash = $2, updated_at = now() WHERE id = $1",
        account_id,
        password_hash,
    )


async def delete_account(conn: Conn, account_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM accounts WHERE id = $1", account_id)


async def existing_accounts(conn: Conn, account_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    rows = await conn.fetch("SELECT id FROM accounts WHERE id = ANY($1::uuid[])", account_ids)
    return {row["id"] for row in rows}


# -- sessions ------------------------------------------------------------------------------


async def insert_session(
    conn: Conn,
    *,
    account_id: uuid.UUID,
    token_hash: bytes,
    user_agent: str | None,
    expires_at: datetime,
) -> uuid.UUID:
    session_id: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO account_sessions (account_id, token_hash, user_agent, expires_at)
        VALUES ($1, $2, $3, $4)
        RETURNING id
        """,
        account_id,
        token_hash,
        user_agent,
        expires_at,
    )
    return session_id


async def session_by_token(conn: Conn, token_hash: bytes) -> asyncpg.Record | None:
    """The live session with this token, its account, and whether last_seen_at is stale
    enough to write again (a write per request would cost more than the answer is worth)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        """
        SELECT s.id AS session_id, s.last_seen_at < now() - interval '1 minute' AS stale,
               a.id, a.email, a.display_name
        FROM account_sessions s JOIN accounts a ON a.id = s.account_id
        WHERE s.token_hash = $1 AND s.expires_at > now()
        """,
        token_hash,
    )
    return row


async def touch_session(conn: Conn, session_id: uuid.UUID) -> None:
    await conn.execute("UPDATE account_sessions SET last_seen_at = now() WHERE id = $1", session_id)


async def list_sessions(conn: Conn, account_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT id, user_agent, created_at, last_seen_at, expires_at FROM account_sessions
        WHERE account_id = $1 AND expires_at > now()
        ORDER BY last_seen_at DESC, id
        """,
        account_id,
    )


async def live_sessions(conn: Conn, session_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT id FROM account_sessions WHERE id = ANY($1::uuid[]) AND expires_at > now()",
        session_ids,
    )
    return {row["id"] for row in rows}


async def delete_session(conn: Conn, account_id: uuid.UUID, session_id: uuid.UUID) -> bool:
    """Delete one of this account's sessions; False if it has no such session."""
    deleted = await conn.fetchval(
        "DELETE FROM account_sessions WHERE id = $1 AND account_id = $2 RETURNING id",
        session_id,
        account_id,
    )
    return deleted is not None


async def delete_sessions(
    conn: Conn, account_id: uuid.UUID, *, keep: uuid.UUID | None = None
) -> list[uuid.UUID]:
    """Delete every session of the account but `keep`; the ids of those that went."""
    rows = await conn.fetch(
        """
        DELETE FROM account_sessions WHERE account_id = $1 AND id IS DISTINCT FROM $2
        RETURNING id
        """,
        account_id,
        keep,
    )
    return [row["id"] for row in rows]


async def delete_expired_sessions(conn: Conn) -> int:
    result = await conn.execute("DELETE FROM account_sessions WHERE expires_at <= now()")
    return int(result.split()[-1])


# -- password resets -----------------------------------------------------------------------


async def insert_reset(
    conn: Conn, account_id: uuid.UUID, token_hash: bytes, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO password_resets (token_hash, account_id, expires_at) VALUES ($1, $2, $3)",
        token_hash,
        account_id,
        expires_at,
    )


async def reset_by_token(conn: Conn, token_hash: bytes) -> asyncpg.Record | None:
    """The live reset with this token and its account's email (for the password rules)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        """
        SELECT a.id, a.email FROM password_resets r JOIN accounts a ON a.id = r.account_id
        WHERE r.token_hash = $1 AND r.expires_at > now()
        """,
        token_hash,
    )
    return row


async def use_reset(conn: Conn, token_hash: bytes) -> uuid.UUID | None:
    """Spend a live reset token: its account, or None if it is not (or no longer) live.
    Concurrent uses queue on the row; the first deletes it, the others find nothing."""
    account_id: uuid.UUID | None = await conn.fetchval(
        """
        DELETE FROM password_resets WHERE token_hash = $1 AND expires_at > now()
        RETURNING account_id
        """,
        token_hash,
    )
    return account_id


async def delete_resets(conn: Conn, account_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM password_resets WHERE account_id = $1", account_id)


async def delete_expired_resets(conn: Conn) -> int:
    result = await conn.execute("DELETE FROM password_resets WHERE expires_at <= now()")
    return int(result.split()[-1])

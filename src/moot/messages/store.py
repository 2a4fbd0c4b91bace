"""SQL for conversations, messages, mentions, reactions and read markers. Every function
takes the connection to run on, so the service decides what shares a transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

import asyncpg

from moot.messages.schemas import ConversationKind, Quoted, Reaction

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

QUOTE_LENGTH = 200  # characters of the parent a reply shows

# A message with what its view needs: the parent it quotes, whom it mentions.
_MESSAGE = f"""
    SELECT m.id, m.conversation_id, m.author_id, m.content, m.reply_to, m.mentions_everyone,
           m.created_at, m.edited_at, m.deleted_at, m.pinned_at, m.pinned_by,
           p.author_id AS parent_author, left(p.content, {QUOTE_LENGTH}) AS parent_content,
           p.deleted_at IS NOT NULL AS parent_deleted,
           coalesce((SELECT array_agg(mm.account_id ORDER BY mm.account_id)
                     FROM message_mentions mm WHERE mm.message_id = m.id), '{{}}') AS mentions
    FROM messages m LEFT JOIN messages p ON p.id = m.reply_to
"""


# -- conversations -------------------------------------------------------------------------


async def create_conversation(
    conn: Conn, kind: ConversationKind, space_id: uuid.UUID | None
) -> uuid.UUID:
    conversation_id: uuid.UUID = await conn.fetchval(
        "INSERT INTO conversations (kind, space_id) VALUES ($1, $2) RETURNING id", kind, space_id
    )
    return conversation_id


async def delete_conversation(conn: Conn, conversation_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM conversations WHERE id = $1", conversation_id)


async def lock_conversation(conn: Conn, conversation_id: uuid.UUID) -> bool:
    """Take the conversation's row lock: its messages are numbered and announced one at a
    time, so events leave in the order of their ids. False if it is gone."""
    found = await conn.fetchval(
        "SELECT true FROM conversations WHERE id = $1 FOR NO KEY UPDATE", conversation_id
    )
    return bool(found)


# -- messages ------------------------------------------------------------------------------


async def insert_message(
    conn: Conn,
    conversation_id: uuid.UUID,
    author_id: uuid.UUID,
    content: str,
    reply_to: int | None,
    mentions_everyone: bool,
) -> int:
    message_id: int = await conn.fetchval(
        """
        INSERT INTO messages (conversation_id, author_id, content, reply_to, mentions_everyone)
        VALUES ($1, $2, $3, $4, $5) RETURNING id
        """,
        conversation_id,
        author_id,
        content,
        reply_to,
        mentions_everyone,
    )
    return message_id


async def set_mentions(
    conn: Conn, conversation_id: uuid.UUID, message_id: int, accounts: Iterable[uuid.UUID]
) -> None:
    await conn.execute("DELETE FROM message_mentions WHERE message_id = $1", message_id)
    await conn.executemany(
        """
        INSERT INTO message_mentions (account_id, conversation_id, message_id)
        VALUES ($1, $2, $3) ON CONFLICT DO NOTHING
        """,
        [(account_id, conversation_id, message_id) for account_id in accounts],
    )


async def message(
    conn: Conn, conversation_id: uuid.UUID, message_id: int, *, lock: bool = False
) -> asyncpg.Record | None:
    if lock:
        await conn.execute(
            "SELECT 1 FROM messages WHERE id = $1 AND conversation_id = $2 FOR UPDATE",
            message_id,
            conversation_id,
        )
    row: asyncpg.Record | None = await conn.fetchrow(
        f"{_MESSAGE} WHERE m.id = $1 AND m.conversation_id = $2", message_id, conversation_id
    )
    return row


async def page(
    conn: Conn,
    conversation_id: uuid.UUID,
    *,
    before: int | None,
    after: int | None,
    limit: int,
) -> tuple[list[asyncpg.Record], bool]:
    """Up to `limit` messages, oldest first: the latest, those before `before`, or those
    after `after`; and whether there are more in that direction."""
    if after is not None:
        rows = await conn.fetch(
            f"{_MESSAGE} WHERE m.conversation_id = $1 AND m.id > $2 ORDER BY m.id LIMIT $3",
            conversation_id,
            after,
            limit + 1,
        )
        return list(rows[:limit]), len(rows) > limit
    rows = await conn.fetch(
        f"""{_MESSAGE} WHERE m.conversation_id = $1 AND m.id < $2
            ORDER BY m.id DESC LIMIT $3""",
        conversation_id,
        before if before is not None else 2**63 - 1,
        limit + 1,
    )
    return list(reversed(rows[:limit])), len(rows) > limit


async def edit_message(conn: Conn, message_id: int, content: str, mentions_everyone: bool) -> None:
    await conn.execute(
        """
        UPDATE messages SET content = $2, mentions_everyone = $3, edited_at = now()
        WHERE id = $1
        """,
        message_id,
        content,
        mentions_everyone,
    )


async def erase_message(conn: Conn, message_id: int, deleted_by: uuid.UUID) -> None:
    """Keep a tombstone: the row stays (replies still point at it), its content, mentions,
    reactions and pin go."""
    await conn.execute(
        """
        UPDATE messages SET content = '', mentions_everyone = false, deleted_at = now(),
               deleted_by = $2, pinned_at = NULL, pinned_by = NULL
        WHERE id = $1
        """,
        message_id,
        deleted_by,
    )
    await conn.execute("DELETE FROM message_mentions WHERE message_id = $1", message_id)
    await conn.execute("DELETE FROM message_reactions WHERE message_id = $1", message_id)


async def set_pin(conn: Conn, message_id: int, by: uuid.UUID | None) -> None:
    await conn.execute(
        """
        UPDATE messages SET pinned_at = CASE WHEN $2::uuid IS NULL THEN NULL ELSE now() END,
                            pinned_by = $2
        WHERE id = $1
        """,
        message_id,
        by,
    )


async def pinned(conn: Conn, conversation_id: uuid.UUID) -> list[asyncpg.Record]:
    rows = await conn.fetch(
        f"""{_MESSAGE} WHERE m.conversation_id = $1 AND m.pinned_at IS NOT NULL
            ORDER BY m.pinned_at DESC, m.id DESC""",
        conversation_id,
    )
    return list(rows)


async def search(
    conn: Conn, conversation_ids: Sequence[uuid.UUID], query: str, limit: int
) -> list[asyncpg.Record]:
    """Messages matching `query` in Russian or English (either configuration's stems),
    newest first."""
    rows = await conn.fetch(
        f"""{_MESSAGE}
            WHERE m.conversation_id = ANY($1::uuid[]) AND m.deleted_at IS NULL
              AND m.search @@ (websearch_to_tsquery('russian', $2)
                               || websearch_to_tsquery('english', $2))
            ORDER BY m.id DESC LIMIT $3""",
        list(conversation_ids),
        query,
        limit,
    )
    return list(rows)


def quoted(row: asyncpg.Record) -> Quoted | None:
    if row["reply_to"] is None:
        return None
    deleted = bool(row["parent_deleted"])
    return Quoted(
        id=row["reply_to"],
        author_id=row["parent_author"],
        content="" if deleted else (row["parent_content"] or ""),
        deleted=deleted,
    )


# -- reactions -----------------------------------------------------------------------------


async def add_reaction(conn: Conn, message_id: int, emoji: str, account_id: uuid.UUID) -> bool:
    """True if it is new (one per account per emoji)."""
    added = await conn.fetchval(
        """
        INSERT INTO message_reactions (message_id, emoji, account_id) VALUES ($1, $2, $3)
        ON CONFLICT DO NOTHING RETURNING true
        """,
        message_id,
        emoji,
        account_id,
    )
    return bool(added)


async def remove_reaction(conn: Conn, message_id: int, emoji: str, account_id: uuid.UUID) -> bool:
    removed = await conn.fetchval(
        """
        DELETE FROM message_reactions WHERE message_id = $1 AND emoji = $2 AND account_id = $3
        RETURNING true
        """,
        message_id,
        emoji,
        account_id,
    )
    return bool(removed)


async def reaction_count(conn: Conn, message_id: int, emoji: str) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM message_reactions WHERE message_id = $1 AND emoji = $2",
        message_id,
        emoji,
    )
    return count


async def reactions(
    conn: Conn, message_ids: Sequence[int], viewer: uuid.UUID
) -> dict[int, list[Reaction]]:
    """Per message, each emoji with its count and whether `viewer` is among them, in the
    order the emoji were first used."""
    rows = await conn.fetch(
        """
        SELECT message_id, emoji, count(*)::int AS count, bool_or(account_id = $2) AS me,
               min(created_at) AS first
        FROM message_reactions WHERE message_id = ANY($1::bigint[])
        GROUP BY message_id, emoji ORDER BY message_id, first, emoji
        """,
        list(message_ids),
        viewer,
    )
    found: dict[int, list[Reaction]] = {}
    for row in rows:
        found.setdefault(row["message_id"], []).append(
            Reaction(emoji=row["emoji"], count=row["count"], me=row["me"])
        )
    return found


# -- read markers --------------------------------------------------------------------------


async def advance_marker(
    conn: Conn, conversation_id: uuid.UUID, account_id: uuid.UUID, message_id: int
) -> None:
    """Move the account's marker to `message_id`, never back (an older device's report of
    what it read changes nothing)."""
    await conn.execute(
        """
        INSERT INTO read_markers (account_id, conversation_id, last_read_id) VALUES ($1, $2, $3)
        ON CONFLICT (account_id, conversation_id) DO UPDATE
        SET last_read_id = greatest(read_markers.last_read_id, excluded.last_read_id),
            updated_at = now()
        """,
        account_id,
        conversation_id,
        message_id,
    )


async def read_states(
    conn: Conn, account_id: uuid.UUID, conversation_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int, int, int]]:
    """Per conversation: (last read id, unread count, mention count, last message id).
    Unread: others' messages after the marker that are not deleted; mentions: those of them
    that name the account or @everyone."""
    rows = await conn.fetch(
        """
        SELECT c.id, coalesce(r.last_read_id, 0) AS last_read_id,
               (SELECT count(*) FROM messages m
                WHERE m.conversation_id = c.id AND m.id > coalesce(r.last_read_id, 0)
                  AND m.deleted_at IS NULL AND m.author_id IS DISTINCT FROM $1)::int AS unread,
               (SELECT count(*) FROM messages m
                WHERE m.conversation_id = c.id AND m.id > coalesce(r.last_read_id, 0)
                  AND m.deleted_at IS NULL AND m.author_id IS DISTINCT FROM $1
                  AND (m.mentions_everyone OR EXISTS (
                      SELECT 1 FROM message_mentions mm
                      WHERE mm.account_id = $1 AND mm.conversation_id = c.id
                        AND mm.message_id = m.id)))::int AS mentions,
               coalesce((SELECT max(m.id) FROM messages m WHERE m.conversation_id = c.id), 0)
                   AS last_message_id
        FROM unnest($2::uuid[]) AS c(id)
        LEFT JOIN read_markers r ON r.conversation_id = c.id AND r.account_id = $1
        """,
        account_id,
        list(conversation_ids),
    )
    return {
        row["id"]: (
            row["last_read_id"],
            row["unread"],
            row["mentions"],
            row["last_message_id"],
        )
        for row in rows
    }


async def readers_states(
    conn: Conn, conversation_id: uuid.UUID, account_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int, int]]:
    """For several accounts in one conversation: (last read id, unread, mentions)."""
    rows = await conn.fetch(
        """
        SELECT a.id, coalesce(r.last_read_id, 0) AS last_read_id,
               (SELECT count(*) FROM messages m
                WHERE m.conversation_id = $1 AND m.id > coalesce(r.last_read_id, 0)
                  AND m.deleted_at IS NULL AND m.author_id IS DISTINCT FROM a.id)::int AS unread,
               (SELECT count(*) FROM messages m
                WHERE m.conversation_id = $1 AND m.id > coalesce(r.last_read_id, 0)
                  AND m.deleted_at IS NULL AND m.author_id IS DISTINCT FROM a.id
                  AND (m.mentions_everyone OR EXISTS (
                      SELECT 1 FROM message_mentions mm
                      WHERE mm.account_id = a.id AND mm.conversation_id = $1
                        AND mm.message_id = m.id)))::int AS mentions
        FROM unnest($2::uuid[]) AS a(id)
        LEFT JOIN read_markers r ON r.conversation_id = $1 AND r.account_id = a.id
        """,
        conversation_id,
        list(account_ids),
    )
    return {row["id"]: (row["last_read_id"], row["unread"], row["mentions"]) for row in rows}

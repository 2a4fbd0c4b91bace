"""SQL for transcript_segments, transcription_sessions and the room's usage total. Every
function takes the connection to run on, so the caller decides what shares a transaction."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence

import asyncpg

from moot.transcription.schemas import Segment, TranscriptSegment

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

# One statement per batch whatever its size: the columns travel as seven arrays.
_SEGMENT_COLUMNS = [
    "room_id",
    "participant_id",
    "utterance_id",
    "text",
    "language",
    "started_at",
    "ended_at",
]
_INSERT_SEGMENTS_SKIPPING_DUPLICATES = """
    INSERT INTO transcript_segments
        (room_id, participant_id, utterance_id, text, language, started_at, ended_at)
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[],
                         $6::float8[], $7::float8[])
    ON CONFLICT (room_id, utterance_id) DO NOTHING
"""

# The speaker's name is the one of their latest seat in the room (they may have left and
# come back under another name); segments without a participant or seat get None.
_SEGMENT_SELECT = """
    SELECT s.id, s.participant_id, seat.display_name, s.utterance_id, s.text, s.language,
           s.started_at, s.ended_at, s.created_at
    FROM transcript_segments s
    LEFT JOIN LATERAL (
        SELECT p.display_name FROM room_participants p
        WHERE p.room_id = s.room_id AND p.participant_id = s.participant_id
        ORDER BY p.joined_at DESC, p.id DESC
        LIMIT 1
    ) seat ON true
    WHERE s.room_id = $1
"""

_ORDER = " ORDER BY s.started_at, s.id"

# Keyset cursor: `after` is the id of the last segment the reader has; the next page starts
# right after that segment's (started_at, id). Ids are unique, so no row is repeated or
# skipped between pages. A segment stored later with an earlier started_at than the cursor
# (a late final) is not on the following pages; a fresh read from the start has it.
# An id that is not a segment of this room matches nothing: the page is empty.
_AFTER = """
    AND (s.started_at, s.id) > (SELECT c.started_at, c.id FROM transcript_segments c
                                WHERE c.id = $2 AND c.room_id = $1)
"""


def segment_view(row: asyncpg.Record) -> TranscriptSegment:
    return TranscriptSegment(
        id=row["id"],
        participant_id=row["participant_id"],
        display_name=row["display_name"],
        utterance_id=row["utterance_id"],
        text=row["text"],
        language=row["language"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        created_at=row["created_at"],
    )


async def insert_segments(conn: Conn, segments: Sequence[Segment]) -> int:
    """Store a batch in one statement; return how many rows were new. A segment whose
    (room_id, utterance_id) is already stored, or repeated within the batch, is skipped.

    Duplicates are rare (a resumed Gladia session, a retried flush), so the batch goes in
    with binary COPY, PostgreSQL's fastest write path; only a batch that hits the unique index
    (COPY is all or nothing) is written again as one INSERT … ON CONFLICT DO NOTHING.
    """
    if not segments:
        return 0
    try:
        status = await conn.copy_records_to_table(
            "transcript_segments",
            records=[
                (
                    s.room_id,
                    s.participant_id,
                    s.utterance_id,
                    s.text,
                    s.language,
                    s.started_at,
                    s.ended_at,
                )
                for s in segments
            ],
            columns=_SEGMENT_COLUMNS,
        )
    except asyncpg.UniqueViolationError:
        status = await conn.execute(
            _INSERT_SEGMENTS_SKIPPING_DUPLICATES,
            [s.room_id for s in segments],
            [s.participant_id for s in segments],
            [s.utterance_id for s in segments],
            [s.text for s in segments],
            [s.language for s in segments],
            [s.started_at for s in segments],
            [s.ended_at for s in segments],
        )
    return int(status.rsplit(" ", 1)[-1])  # "COPY <rows>" or "INSERT 0 <rows>"


async def list_segments(
    conn: Conn, room_id: uuid.UUID, *, after: int | None, limit: int
) -> list[TranscriptSegment]:
    """Up to `limit` segments in timeline order (started_at, id), after the cursor if given."""
    if after is None:
        rows = await conn.fetch(f"{_SEGMENT_SELECT}{_ORDER} LIMIT $2", room_id, limit)
    else:
        rows = await conn.fetch(
            f"{_SEGMENT_SELECT}{_AFTER}{_ORDER} LIMIT $3", room_id, after, limit
        )
    return [segment_view(r) for r in rows]


async def all_segments(conn: Conn, room_id: uuid.UUID) -> list[TranscriptSegment]:
    """The whole transcript in timeline order, for export."""
    rows = await conn.fetch(f"{_SEGMENT_SELECT}{_ORDER}", room_id)
    return [segment_view(r) for r in rows]


async def open_session(
    conn: Conn, room_id: uuid.UUID, participant_id: uuid.UUID, gladia_id: str | None
) -> uuid.UUID:
    """Record the start of one worker session (one Gladia live session) in a room."""
    session_id: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO transcription_sessions (room_id, participant_id, gladia_id)
        VALUES ($1, $2, $3)
        RETURNING id
        """,
        room_id,
        participant_id,
        gladia_id,
    )
    return session_id


async def close_session(
    conn: Conn, session_id: uuid.UUID, audio_seconds: float, reason: str
) -> bool:
    """End a session and add its audio to the room's total, in one statement (so both or
    neither). Closing an already closed session changes nothing and returns False, so a
    retried close never counts the audio twice."""
    if not math.isfinite(audio_seconds) or audio_seconds < 0:
        raise ValueError(f"audio_seconds must be a finite number >= 0, not {audio_seconds!r}")
    status = await conn.execute(
        """
        WITH closed AS (
            UPDATE transcription_sessions
            SET ended_at = now(), audio_seconds = $2, end_reason = $3
            WHERE id = $1 AND ended_at IS NULL
            RETURNING room_id
        )
        UPDATE rooms r SET transcription_seconds = r.transcription_seconds + $2
        FROM closed WHERE r.id = closed.room_id
        """,
        session_id,
        audio_seconds,
        reason,
    )
    return bool(status == "UPDATE 1")


async def room_usage(conn: Conn, room_id: uuid.UUID) -> float:
    """Seconds of audio transcribed in the room over its closed sessions (0 if no room)."""
    seconds: float | None = await conn.fetchval(
        "SELECT transcription_seconds FROM rooms WHERE id = $1", room_id
    )
    return seconds or 0.0


# -- a room's transcription state ------------------------------------------------------------
# Still columns of `rooms` (migration 0002); moving them to a table of transcription's own is
# the next step of the structure work. Only this module reads or writes them (and the room's
# leave, which releases the roles a leaving seat held).


async def lock_room(conn: Conn, room_id: uuid.UUID) -> None:
    """Serialize with joins, leaves and other changes to the room (its row lock)."""
    await conn.execute("SELECT 1 FROM rooms WHERE id = $1 FOR UPDATE", room_id)


async def transcription_state(conn: Conn, room_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT r.transcription_host_id, r.transcription_status, r.transcription_started_at,
               r.transcription_seconds, r.created_at, r.status AS room_status,
               coalesce(
                   (SELECT p.participant_id FROM room_participants p
                    WHERE p.room_id = r.id AND p.participant_id = r.transcription_host_id
                      AND p.left_at IS NULL),
                   (SELECT p.participant_id FROM room_participants p
                    WHERE p.room_id = r.id AND p.role = 'host' AND p.left_at IS NULL)
               ) AS effective_host
        FROM rooms r WHERE r.id = $1
        """,
        room_id,
    )


async def set_transcription(
    conn: Conn, room_id: uuid.UUID, *, status: str, started: bool = False
) -> None:
    await conn.execute(
        """
        UPDATE rooms SET transcription_status = $2,
            transcription_started_at = CASE WHEN $3 THEN now() ELSE transcription_started_at END
        WHERE id = $1
        """,
        room_id,
        status,
        started,
    )


async def set_transcription_host(conn: Conn, room_id: uuid.UUID, host: uuid.UUID | None) -> None:
    await conn.execute(
        "UPDATE rooms SET transcription_host_id = $2, transcription_status = 'idle' WHERE id = $1",
        room_id,
        host,
    )

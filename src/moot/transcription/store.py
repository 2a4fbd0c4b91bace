"""SQL for transcript_segments, transcription_sessions and room_transcriptions. Every
function takes the connection to run on, so the caller decides what shares a transaction."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import asyncpg
import msgspec

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
    return msgspec.convert(dict(row), TranscriptSegment)


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


async def clear_transcript(conn: Conn, room_id: uuid.UUID) -> int:
    """The host deleted the transcript: every segment goes, and `cleared_at` says when, so
    the finals of a worker session open at that moment are dropped too (`delete_late`).
    Returns how many segments were deleted."""
    await conn.execute(
        """
        INSERT INTO room_transcriptions AS t (room_id, cleared_at) VALUES ($1, now())
        ON CONFLICT (room_id) DO UPDATE SET cleared_at = excluded.cleared_at
        """,
        room_id,
    )
    status = await conn.execute("DELETE FROM transcript_segments WHERE room_id = $1", room_id)
    return int(status.rsplit(" ", 1)[-1])


async def delete_late(conn: Conn, session_id: uuid.UUID) -> int | None:
    """If the transcript was deleted while this worker session was open, delete the session's
    segments that reached the table after that (its last finals) and return how many; None if
    it was not."""
    deleted: int | None = await conn.fetchval(
        """
        WITH session AS (
            SELECT ts.room_id, ts.gladia_id FROM transcription_sessions ts
            JOIN room_transcriptions t ON t.room_id = ts.room_id
            WHERE ts.id = $1 AND t.cleared_at >= ts.started_at
        ), gone AS (
            DELETE FROM transcript_segments s USING session
            WHERE s.room_id = session.room_id
              AND left(s.utterance_id, length(session.gladia_id) + 1) = session.gladia_id || ':'
            RETURNING 1
        )
        SELECT CASE WHEN EXISTS (SELECT 1 FROM session) THEN (SELECT count(*) FROM gone) END
        """,
        session_id,
    )
    return deleted


async def cleared_at(conn: Conn, room_id: uuid.UUID) -> datetime | None:
    """When the host last deleted the room's transcript."""
    at: datetime | None = await conn.fetchval(
        "SELECT cleared_at FROM room_transcriptions WHERE room_id = $1", room_id
    )
    return at


async def session_started(conn: Conn, session_id: uuid.UUID) -> datetime:
    started: datetime = await conn.fetchval(
        "SELECT started_at FROM transcription_sessions WHERE id = $1", session_id
    )
    return started


async def open_session(
    conn: Conn,
    room_id: uuid.UUID,
    participant_id: uuid.UUID,
    gladia_id: str | None,
    channels: int = 1,
) -> uuid.UUID:
    """Record the start of one worker session (one Gladia live session) in a room."""
    session_id: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO transcription_sessions (room_id, participant_id, gladia_id, channels)
        VALUES ($1, $2, $3, $4)
        RETURNING id
        """,
        room_id,
        participant_id,
        gladia_id,
        channels,
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
    # Channel-seconds are what Gladia bills: every channel of the session for its duration.
    status = await conn.execute(
        """
        WITH closed AS (
            UPDATE transcription_sessions
            SET ended_at = now(), audio_seconds = $2::float8,
                channel_seconds = $2::float8 * channels,
                end_reason = $3
            WHERE id = $1 AND ended_at IS NULL
            RETURNING room_id, channel_seconds
        )
        INSERT INTO room_transcriptions AS t (room_id, seconds, channel_seconds)
        SELECT room_id, $2::float8, channel_seconds FROM closed
        ON CONFLICT (room_id) DO UPDATE SET
            seconds = t.seconds + excluded.seconds,
            channel_seconds = t.channel_seconds + excluded.channel_seconds
        """,
        session_id,
        audio_seconds,
        reason,
    )
    return bool(status == "INSERT 0 1")


# -- a room's transcription state (room_transcriptions, migration 0004) -----------------------
# A room without a row has never been transcribed: idle, no designated host, nothing used.


class RoomTranscription(msgspec.Struct, kw_only=True, frozen=True):
    host_id: uuid.UUID | None = None  # designated; None: the room host transcribes
    status: Literal["idle", "active"] = "idle"
    started_at: datetime | None = None
    seconds: float = 0.0
    channel_seconds: float = 0.0


async def room_transcription(conn: Conn, room_id: uuid.UUID) -> RoomTranscription:
    row = await conn.fetchrow(
        """
        SELECT host_id, status, started_at, seconds, channel_seconds
        FROM room_transcriptions WHERE room_id = $1
        """,
        room_id,
    )
    return RoomTranscription() if row is None else msgspec.convert(dict(row), RoomTranscription)


async def set_status(conn: Conn, room_id: uuid.UUID, status: str) -> None:
    """Mark the run active or idle; `started_at` is when it last went from idle to active."""
    await conn.execute(
        """
        INSERT INTO room_transcriptions AS t (room_id, status, started_at)
        VALUES ($1, $2::varchar, CASE WHEN $2::varchar = 'active' THEN now() END)
        ON CONFLICT (room_id) DO UPDATE SET
            status = excluded.status,
            started_at = CASE WHEN excluded.status = 'active' AND t.status <> 'active'
                              THEN now() ELSE t.started_at END
        """,
        room_id,
        status,
    )


async def set_host(conn: Conn, room_id: uuid.UUID, host: uuid.UUID | None) -> None:
    """Designate the transcription host; a running transcription stops."""
    await conn.execute(
        """
        INSERT INTO room_transcriptions (room_id, host_id) VALUES ($1, $2)
        ON CONFLICT (room_id) DO UPDATE SET host_id = excluded.host_id, status = 'idle'
        """,
        room_id,
        host,
    )


async def release_host(
    conn: Conn, room_id: uuid.UUID, participant_id: uuid.UUID, was_room_host: bool
) -> bool:
    """A seat is leaving: if it transcribed (designated, or the room host with nobody
    designated), the role falls back to the room host and a running transcription stops.
    True if one was running."""
    was: str | None = await conn.fetchval(
        """
        UPDATE room_transcriptions t SET host_id = NULL, status = 'idle'
        FROM (SELECT status FROM room_transcriptions WHERE room_id = $1) AS before
        WHERE t.room_id = $1 AND (t.host_id = $2 OR (t.host_id IS NULL AND $3))
        RETURNING before.status
        """,
        room_id,
        participant_id,
        was_room_host,
    )
    return was == "active"


# -- a time window of a room's transcript (a kept room's meetings: spaces' sessions) ---------
# Segments carry no meeting of their own: a window is [since, until) of when they were stored.

_WINDOW = " AND s.created_at >= $2 AND ($3::timestamptz IS NULL OR s.created_at < $3)"


async def segments_in_window(
    conn: Conn,
    room_id: uuid.UUID,
    since: datetime,
    until: datetime | None,
    *,
    after: int | None = None,
    limit: int | None = None,
) -> list[TranscriptSegment]:
    """The window's segments in timeline order, after the segment id `after` if given."""
    query = f"{_SEGMENT_SELECT}{_WINDOW}"
    args: list[object] = [room_id, since, until]
    if after is not None:
        args.append(after)
        query += f"""
            AND (s.started_at, s.id) > (SELECT c.started_at, c.id FROM transcript_segments c
                                        WHERE c.id = ${len(args)} AND c.room_id = $1)"""
    query += _ORDER
    if limit is not None:
        args.append(limit)
        query += f" LIMIT ${len(args)}"
    rows = await conn.fetch(query, *args)
    return [segment_view(r) for r in rows]


async def delete_segments_in_window(
    conn: Conn, room_id: uuid.UUID, since: datetime, until: datetime | None
) -> int:
    status = await conn.execute(
        """
        DELETE FROM transcript_segments s
        WHERE s.room_id = $1 AND s.created_at >= $2
          AND ($3::timestamptz IS NULL OR s.created_at < $3)
        """,
        room_id,
        since,
        until,
    )
    return int(status.rsplit(" ", 1)[-1])

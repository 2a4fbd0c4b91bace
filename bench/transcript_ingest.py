"""transcript-ingest: final segments into `transcript_segments`, three ways, same table.

- per-row: one INSERT per segment as it arrives (what the batch writer replaces);
- batch writer: moot's BatchWriter (one binary COPY per batch, two in flight; the segments all
  arrive at once, a backlog, which it writes in batches of 1,000);
- COPY: asyncpg's binary COPY of all segments in one go — the ceiling, with no duplicate
  handling — and COPY per batch of the writer's size, the like-for-like comparison.

Each method writes `count` fresh segments into its own room; the table is the real one, with
its unique index and foreign key.
"""

from __future__ import annotations

import statistics
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import asyncpg

from moot.infra.metrics import Metrics
from moot.infra.postgres import migrate_url
from moot.transcription.schemas import Segment
from moot.transcription.writer import BatchWriter

COLUMNS = [
    "room_id",
    "participant_id",
    "utterance_id",
    "text",
    "language",
    "started_at",
    "ended_at",
]


@dataclass
class IngestResult:
    method: str
    segments: int
    seconds: float
    segments_per_second: float


async def _room(conn: asyncpg.pool.PoolConnectionProxy) -> uuid.UUID:
    room_id: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO rooms (code, livekit_room_name, title)
        VALUES (substr(md5(random()::text), 1, 12), 'bench-' || gen_random_uuid(), 'bench')
        RETURNING id
        """
    )
    return room_id


def _segments(room_id: uuid.UUID, count: int) -> list[Segment]:
    speaker = uuid.uuid4()
    return [
        Segment(
            room_id=room_id,
            participant_id=speaker,
            utterance_id=f"bench:{n:08d}",
            text=f"segment {n}: the quick brown fox jumps over the lazy dog",
            language="en",
            started_at=n * 2.0,
            ended_at=n * 2.0 + 1.8,
        )
        for n in range(count)
    ]


def _record(s: Segment) -> tuple[Any, ...]:
    return (
        s.room_id,
        s.participant_id,
        s.utterance_id,
        s.text,
        s.language,
        s.started_at,
        s.ended_at,
    )


async def _timed(method: str, count: int, run: Any) -> IngestResult:
    started = time.perf_counter()
    await run()
    seconds = time.perf_counter() - started
    return IngestResult(method, count, round(seconds, 4), round(count / seconds, 1))


async def transcript_ingest(database_url: str, count: int, batch_size: int = 100) -> dict[str, Any]:
    await migrate_url(database_url)
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=4)
    assert pool is not None
    try:
        async with pool.acquire() as conn:
            rooms = [await _room(conn) for _ in range(4)]

        async def per_row() -> None:
            insert = (
                f"INSERT INTO transcript_segments ({', '.join(COLUMNS)}) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING"
            )
            async with pool.acquire() as conn:
                for segment in _segments(rooms[0], count):
                    await conn.execute(insert, *_record(segment))

        async def batch_writer() -> None:
            writer = BatchWriter(pool, flush_interval=0.3, batch_size=batch_size, metrics=Metrics())
            writer.start()
            for segment in _segments(rooms[1], count):
                writer.put(segment)
            assert await writer.close(timeout=120) == 0

        async def copy_all() -> None:
            async with pool.acquire() as conn:
                await conn.copy_records_to_table(
                    "transcript_segments",
                    records=[_record(s) for s in _segments(rooms[2], count)],
                    columns=COLUMNS,
                )

        async def copy_batches() -> None:
            segments = _segments(rooms[3], count)
            async with pool.acquire() as conn:
                for at in range(0, count, batch_size):
                    await conn.copy_records_to_table(
                        "transcript_segments",
                        records=[_record(s) for s in segments[at : at + batch_size]],
                        columns=COLUMNS,
                    )

        results = [
            await _timed("per-row INSERT", count, per_row),
            await _timed(f"batch writer ({batch_size}/batch)", count, batch_writer),
            await _timed("COPY, all at once", count, copy_all),
            await _timed(f"COPY, {batch_size}/batch", count, copy_batches),
        ]
        async with pool.acquire() as conn:
            for room_id in rooms:
                stored = await conn.fetchval(
                    "SELECT count(*) FROM transcript_segments WHERE room_id = $1", room_id
                )
                assert stored == count, f"{stored} of {count} stored"
            await conn.execute("DELETE FROM rooms WHERE id = ANY($1::uuid[])", rooms)
    finally:
        await pool.close()
    per_row_rate, writer_rate, copy_rate, copy_batch_rate = (r.segments_per_second for r in results)
    return {
        "results": [asdict(r) for r in results],
        "writer_vs_per_row": round(writer_rate / per_row_rate, 2),
        "writer_vs_copy": round(writer_rate / copy_rate, 2),
        "writer_vs_copy_batched": round(writer_rate / copy_batch_rate, 2),
    }


async def transcript_ingest_median(database_url: str, count: int, repeat: int) -> dict[str, Any]:
    """`repeat` rounds; per method the median rate, and the ratios of those medians."""
    rounds = [await transcript_ingest(database_url, count) for _ in range(repeat)]
    methods = [r["method"] for r in rounds[0]["results"]]
    rates = {
        method: sorted(
            next(r["segments_per_second"] for r in run["results"] if r["method"] == method)
            for run in rounds
        )
        for method in methods
    }
    median = {method: values[len(values) // 2] for method, values in rates.items()}

    def ratio(name: str) -> float:
        # Within a round the methods run back to back; across rounds the machine drifts.
        # So: the ratio in each round, then the median of those.
        return float(statistics.median(run[name] for run in rounds))

    return {
        "segments": count,
        "runs": repeat,
        "median_segments_per_second": median,
        "all_segments_per_second": rates,
        "writer_vs_per_row": ratio("writer_vs_per_row"),
        "writer_vs_copy": ratio("writer_vs_copy"),
        "writer_vs_copy_batched": ratio("writer_vs_copy_batched"),
        "all_writer_vs_per_row": [run["writer_vs_per_row"] for run in rounds],
        "all_writer_vs_copy": [run["writer_vs_copy"] for run in rounds],
    }

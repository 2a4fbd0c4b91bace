"""Final transcript segments: batched writes (with real PostgreSQL failures), reading back in
pages with speakers' names, and transcription usage per room."""

from __future__ import annotations

import asyncio
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
import structlog
from structlog.testing import LogCapture

from moot.infra.metrics import Metrics
from moot.transcription import store, writer
from moot.transcription.schemas import Segment
from moot.transcription.writer import BatchWriter
from tests.conftest import TestStores as Stores

WRITER_APP = "moot-transcript-writer-test"


async def usage(conn: store.Conn, room_id: uuid.UUID) -> float:
    """Seconds of audio the room has used over its closed sessions."""
    return (await store.room_transcription(conn, room_id)).seconds


async def new_room(db: asyncpg.Connection) -> uuid.UUID:
    code = uuid.uuid4().hex[:10]
    room_id: uuid.UUID = await db.fetchval(
        "INSERT INTO rooms (code, livekit_room_name, title) VALUES ($1, $2, 'Test') RETURNING id",
        code,
        f"moot-{code}",
    )
    return room_id


async def seat(
    db: asyncpg.Connection,
    room_id: uuid.UUID,
    participant_id: uuid.UUID,
    name: str,
    *,
    joined_seconds_ago: float,
    left: bool = False,
) -> None:
    await db.execute(
        """
        INSERT INTO room_participants (room_id, participant_id, display_name, joined_at, left_at,
                                       left_reason)
        VALUES ($1, $2, $3, now() - make_interval(secs => $4),
                CASE WHEN $5 THEN now() END, CASE WHEN $5 THEN 'left' END)
        """,
        room_id,
        participant_id,
        name,
        joined_seconds_ago,
        left,
    )


def segment(room_id: uuid.UUID, utterance: str, start: float = 0.0, **kw: Any) -> Segment:
    fields: dict[str, Any] = {
        "participant_id": None,
        "text": f"text of {utterance}",
        "language": "en",
        "ended_at": start + 1.0,
        **kw,
    }
    return Segment(room_id=room_id, utterance_id=utterance, started_at=start, **fields)


def many(room_id: uuid.UUID, count: int, prefix: str = "u") -> list[Segment]:
    return [segment(room_id, f"{prefix}{i:04d}", float(i)) for i in range(count)]


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def drained(batch_writer: BatchWriter) -> Callable[[], Awaitable[bool]]:
    """Nothing pending: every flush has returned, so its metrics are recorded (rows can be
    visible in the database a moment before the flush that wrote them returns)."""

    async def check() -> bool:
        return batch_writer.pending == 0

    return check


async def stored(db: asyncpg.Connection, room_id: uuid.UUID) -> list[str]:
    rows = await db.fetch(
        # Two batches may be in flight at once, so ids need not follow utterance order.
        "SELECT utterance_id FROM transcript_segments WHERE room_id = $1 ORDER BY utterance_id",
        room_id,
    )
    return [r["utterance_id"] for r in rows]


class RecordingConnection(asyncpg.Connection):
    """Records each COPY it runs (asyncpg's query logger does not see COPY)."""

    log: list[tuple[str, Any]]

    async def copy_records_to_table(  # type: ignore[override]
        self, table_name: str, *, records: Any, **kwargs: Any
    ) -> str:
        records = list(records)
        self.log.append(("COPY", [record[2] for record in records]))
        return await super().copy_records_to_table(table_name, records=records, **kwargs)


class Harness:
    """Pools whose every statement is recorded (the query logger, plus COPY), and writers on
    them that are closed before the pools are."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.statements: list[Any] = []
        self.pools: list[asyncpg.Pool] = []
        self.writers: list[BatchWriter] = []

    async def pool(self, **server_settings: str) -> asyncpg.Pool:
        async def init(conn: asyncpg.Connection) -> None:
            assert isinstance(conn, RecordingConnection)
            conn.log = self.statements
            conn.add_query_logger(lambda record: self.statements.append(("SQL", record)))

        pool = await asyncpg.create_pool(
            self.stores.database_url,
            min_size=1,
            max_size=4,
            init=init,
            connection_class=RecordingConnection,
            server_settings={"application_name": WRITER_APP, **server_settings},
        )
        assert pool is not None
        self.pools.append(pool)
        return pool

    async def writer(
        self, pool: asyncpg.Pool | None = None, **kw: Any
    ) -> tuple[BatchWriter, Metrics]:
        metrics = Metrics()
        options: dict[str, Any] = {"flush_interval": 0.05, "batch_size": 100, **kw}
        batch_writer = BatchWriter(pool or await self.pool(), metrics=metrics, **options)
        batch_writer.start()
        self.writers.append(batch_writer)
        return batch_writer, metrics

    @property
    def inserts(self) -> list[list[str]]:
        """The utterance ids sent by each statement writing segments (COPY or INSERT)."""
        written = []
        for kind, entry in self.statements:
            if kind == "COPY":
                written.append(entry)
            elif "INSERT INTO transcript_segments" in entry.query:
                written.append(list(entry.args[2]))
        return written


@pytest.fixture
async def harness(stores: Stores, db: asyncpg.Connection) -> AsyncIterator[Harness]:
    h = Harness(stores)
    try:
        yield h
    finally:
        for w in h.writers:
            await w.close(timeout=2)
        for pool in h.pools:
            await pool.close()


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> LogCapture:
    """What the writer logs (its own logger: the app's config caches loggers on first use)."""
    capture = LogCapture()
    monkeypatch.setattr(writer, "log", structlog.wrap_logger(None, processors=[capture]))
    return capture


@pytest.fixture
async def locker(stores: Stores, db: asyncpg.Connection) -> AsyncIterator[Callable[[], Any]]:
    """Take an ACCESS EXCLUSIVE lock on transcript_segments from another session; the
    returned connection holds it (and can still read the table) until released."""
    conn = await asyncpg.connect(stores.database_url)
    transaction = conn.transaction()
    held = False

    async def lock() -> asyncpg.Connection:
        nonlocal held
        await transaction.start()
        await conn.execute("LOCK TABLE transcript_segments IN ACCESS EXCLUSIVE MODE")
        held = True
        return conn

    async def release() -> None:
        nonlocal held
        if held:
            await transaction.rollback()
            held = False

    lock.release = release  # type: ignore[attr-defined]
    try:
        yield lock
    finally:
        await release()
        await conn.close()


@pytest.fixture
async def unreachable_pool() -> AsyncIterator[asyncpg.Pool]:
    """A pool for a PostgreSQL that is down: nothing listens on its port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pool = await asyncpg.create_pool(
        f"postgresql://moot@127.0.0.1:{port}/moot", min_size=0, max_size=2, timeout=1
    )
    assert pool is not None
    try:
        yield pool
    finally:
        await pool.close()


# -- one statement per batch ---------------------------------------------------------------


async def test_a_batch_of_any_size_is_stored_with_one_statement(
    harness: Harness, db: asyncpg.Connection
) -> None:
    room_id = await new_room(db)
    pool = await harness.pool()
    async with pool.acquire() as conn:
        inserted = await store.insert_segments(conn, many(room_id, 100))
        assert await store.insert_segments(conn, []) == 0
    assert inserted == 100
    assert [len(ids) for ids in harness.inserts] == [100]
    assert len(await stored(db, room_id)) == 100


async def test_250_segments_with_batch_size_100_are_written_in_three_flushes(
    harness: Harness, db: asyncpg.Connection
) -> None:
    room_id = await new_room(db)
    batch_writer, metrics = await harness.writer(flush_interval=0.2, batch_size=100)
    for s in many(room_id, 250):
        batch_writer.put(s)

    await eventually(lambda: _count(db, room_id, 250))
    await eventually(drained(batch_writer))
    await asyncio.sleep(0.3)  # nothing more is written afterwards
    assert [len(ids) for ids in harness.inserts] == [100, 100, 50]
    assert sample(metrics, "moot_transcript_flushes_total", outcome="ok") == 3
    assert sample(metrics, "moot_transcript_flushes_total", outcome="failed") == 0
    assert sample(metrics, "moot_transcript_rows_written_total") == 250
    assert sample(metrics, "moot_transcript_queue_length") == 0
    assert sample(metrics, "moot_transcript_flush_seconds_count") == 3
    assert await stored(db, room_id) == [s.utterance_id for s in many(room_id, 250)]


async def test_a_long_backlog_is_written_in_batches_ten_times_bigger(
    harness: Harness, db: asyncpg.Connection
) -> None:
    room_id = await new_room(db)
    batch_writer, metrics = await harness.writer(flush_interval=0.2, batch_size=100)
    for s in many(room_id, 2_500):  # more than ten batches wait
        batch_writer.put(s)

    await eventually(lambda: _count(db, room_id, 2_500))
    await eventually(drained(batch_writer))
    # 1,000 at a time while more than ten batches wait; then the usual 100.
    assert [len(ids) for ids in harness.inserts] == [1_000, 1_000, 100, 100, 100, 100, 100]
    assert sample(metrics, "moot_transcript_rows_written_total") == 2_500
    assert await stored(db, room_id) == [s.utterance_id for s in many(room_id, 2_500)]


async def _count(db: asyncpg.Connection, room_id: uuid.UUID, expected: int) -> bool:
    return len(await stored(db, room_id)) == expected


async def test_the_flush_interval_writes_a_small_batch_without_waiting_for_more(
    harness: Harness, db: asyncpg.Connection
) -> None:
    room_id = await new_room(db)
    batch_writer, metrics = await harness.writer(flush_interval=0.3, batch_size=100)
    for s in many(room_id, 3):
        batch_writer.put(s)
    assert sample(metrics, "moot_transcript_queue_length") == 3

    # Three segments never fill a batch of 100: only the interval can have written them,
    # and in one statement.
    await eventually(lambda: _count(db, room_id, 3), timeout=5)
    await eventually(drained(batch_writer))
    assert [len(ids) for ids in harness.inserts] == [3]
    assert sample(metrics, "moot_transcript_queue_length") == 0


async def test_a_full_batch_is_written_before_the_interval_is_up(
    harness: Harness, db: asyncpg.Connection
) -> None:
    room_id = await new_room(db)
    batch_writer, _ = await harness.writer(flush_interval=30, batch_size=10)
    for s in many(room_id, 10):
        batch_writer.put(s)
    await eventually(lambda: _count(db, room_id, 10), timeout=3)
    await eventually(drained(batch_writer))


# -- duplicates ------------------------------------------------------------------------------


async def test_duplicate_utterances_are_skipped_by_the_database_and_counted(
    harness: Harness, db: asyncpg.Connection
) -> None:
    room_id, other_room = await new_room(db), await new_room(db)
    batch_writer, metrics = await harness.writer(flush_interval=0.05, batch_size=100)
    for s in many(room_id, 5):
        batch_writer.put(s)
    await eventually(lambda: _count(db, room_id, 5))
    await eventually(drained(batch_writer))

    # u0003 and u0004 again (with other text), u0005 twice in one batch, and u0000 in
    # another room, which is a different utterance.
    again = [segment(room_id, "u0003", text="changed"), segment(room_id, "u0004")]
    for s in [
        *again,
        segment(room_id, "u0005"),
        segment(room_id, "u0005"),
        segment(other_room, "u0000"),
    ]:
        batch_writer.put(s)
    await eventually(lambda: _count(db, room_id, 6))
    await eventually(drained(batch_writer))
    await eventually(lambda: _count(db, other_room, 1))
    await eventually(drained(batch_writer))

    assert sample(metrics, "moot_transcript_rows_written_total") == 7
    assert sample(metrics, "moot_transcript_duplicates_skipped_total") == 3
    first = await db.fetchval(
        "SELECT text FROM transcript_segments WHERE room_id = $1 AND utterance_id = 'u0003'",
        room_id,
    )
    assert first == "text of u0003"


async def test_insert_reports_only_the_rows_it_added(
    harness: Harness, db: asyncpg.Connection
) -> None:
    room_id = await new_room(db)
    pool = await harness.pool()
    async with pool.acquire() as conn:
        assert await store.insert_segments(conn, many(room_id, 3)) == 3
        batch = [*many(room_id, 5), segment(room_id, "u0004")]
        assert await store.insert_segments(conn, batch) == 2


# -- concurrency ---------------------------------------------------------------------------


async def test_segments_put_from_many_tasks_all_arrive_once_in_bounded_batches(
    harness: Harness, db: asyncpg.Connection
) -> None:
    room_id = await new_room(db)
    batch_writer, metrics = await harness.writer(flush_interval=0.02, batch_size=30)

    async def speaker(n: int) -> None:
        for s in many(room_id, 50, prefix=f"t{n:02d}-"):
            batch_writer.put(s)
            await asyncio.sleep(random.uniform(0, 0.005))

    await asyncio.gather(*(speaker(n) for n in range(20)))
    await eventually(lambda: _count(db, room_id, 1000))
    await eventually(drained(batch_writer))

    sizes = [len(ids) for ids in harness.inserts]
    # At most a batch, or ten when more than ten batches were waiting (a slow machine can
    # fall that far behind twenty speakers).
    assert max(sizes) <= 300
    assert sum(sizes) == 1000
    assert sample(metrics, "moot_transcript_rows_written_total") == 1000
    assert sample(metrics, "moot_transcript_duplicates_skipped_total") == 0
    assert sample(metrics, "moot_transcript_flushes_total", outcome="ok") == len(sizes)
    assert len(set(await stored(db, room_id))) == 1000


# -- failures are retried, never dropped ---------------------------------------------------


async def test_a_locked_table_fails_the_flush_and_the_same_batch_is_retried_until_it_clears(
    harness: Harness, db: asyncpg.Connection, locker: Any
) -> None:
    room_id = await new_room(db)
    pool = await harness.pool(lock_timeout="100ms")  # waits for a lock fail after 100 ms
    batch_writer, metrics = await harness.writer(
        pool, flush_interval=0.02, batch_size=4, max_backoff=0.2
    )
    holder = await locker()
    for s in many(room_id, 10):
        batch_writer.put(s)

    async def failed_twice() -> bool:
        return sample(metrics, "moot_transcript_flushes_total", outcome="failed") >= 2

    await eventually(failed_twice)
    assert await holder.fetchval("SELECT count(*) FROM transcript_segments") == 0
    # Every attempt so far was one of the first two batches (two are written at once when
    # there is a backlog): a failed batch stays at the front, nothing behind it jumps ahead.
    first, second = ["u0000", "u0001", "u0002", "u0003"], ["u0004", "u0005", "u0006", "u0007"]
    assert all(ids in (first, second) for ids in harness.inserts)
    for s in many(room_id, 12)[10:]:  # more arrive during the outage
        batch_writer.put(s)
    assert batch_writer.pending == 12

    await locker.release()
    await eventually(lambda: _count(db, room_id, 12))
    await eventually(drained(batch_writer))
    assert await stored(db, room_id) == [s.utterance_id for s in many(room_id, 12)]
    assert sample(metrics, "moot_transcript_rows_written_total") == 12
    assert sample(metrics, "moot_transcript_flushes_total", outcome="ok") == 3
    assert sample(metrics, "moot_transcript_queue_length") == 0


async def test_a_connection_killed_mid_write_is_retried_on_a_new_one(
    harness: Harness, db: asyncpg.Connection, locker: Any
) -> None:
    room_id = await new_room(db)
    batch_writer, metrics = await harness.writer(flush_interval=0.02, batch_size=100)
    await locker()
    for s in many(room_id, 5):
        batch_writer.put(s)

    async def writer_waiting() -> bool:
        return bool(
            await db.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = $1 AND wait_event_type = 'Lock'",
                WRITER_APP,
            )
        )

    await eventually(writer_waiting)
    # The server kills the writer's connection while its INSERT waits (as on a failover).
    killed = await db.fetchval(
        "SELECT count(*) FROM pg_stat_activity, pg_terminate_backend(pid)"
        " WHERE application_name = $1 AND wait_event_type = 'Lock'",
        WRITER_APP,
    )
    assert killed == 1

    async def failed_once() -> bool:
        return sample(metrics, "moot_transcript_flushes_total", outcome="failed") >= 1

    await eventually(failed_once)
    await locker.release()
    await eventually(lambda: _count(db, room_id, 5))
    await eventually(drained(batch_writer))
    assert sample(metrics, "moot_transcript_rows_written_total") == 5
    assert sample(metrics, "moot_transcript_duplicates_skipped_total") == 0


async def test_segments_the_database_will_never_accept_are_given_up_loudly_not_retried(
    harness: Harness, db: asyncpg.Connection, logs: LogCapture
) -> None:
    room_id, deleted_room = await new_room(db), await new_room(db)
    await db.execute("DELETE FROM rooms WHERE id = $1", deleted_room)
    batch_writer, metrics = await harness.writer(flush_interval=0.05, batch_size=100)
    batch = [
        segment(room_id, "a1"),
        segment(deleted_room, "gone1"),
        segment(room_id, "a2"),
        segment(room_id, "bad-language", language="x" * 17),  # column is varchar(16)
        segment(deleted_room, "gone2"),
        segment(room_id, "a3"),
    ]
    for s in batch:
        batch_writer.put(s)

    await eventually(lambda: _count(db, room_id, 3))
    await eventually(drained(batch_writer))
    assert await stored(db, room_id) == ["a1", "a2", "a3"]
    assert sample(metrics, "moot_transcript_rows_dropped_total", reason="rejected") == 3
    assert sample(metrics, "moot_transcript_flushes_total", outcome="failed") == 0
    assert batch_writer.pending == 0
    rejected = [e for e in logs.entries if e["event"] == "transcript_segment_rejected"]
    assert sorted(e["utterance_id"] for e in rejected) == ["bad-language", "gone1", "gone2"]
    assert all(e["log_level"] == "error" for e in rejected)


async def test_an_unreachable_database_is_retried_with_growing_pauses(
    harness: Harness, db: asyncpg.Connection, unreachable_pool: asyncpg.Pool
) -> None:
    room_id = await new_room(db)
    batch_writer, metrics = await harness.writer(
        unreachable_pool, flush_interval=0.01, batch_size=100, max_backoff=0.4
    )
    for s in many(room_id, 3):
        batch_writer.put(s)
    await asyncio.sleep(1.0)
    # Pauses of 0.05, 0.1, 0.2, 0.4, 0.4 s: a handful of attempts, not a busy loop.
    attempts = sample(metrics, "moot_transcript_flushes_total", outcome="failed")
    assert 3 <= attempts <= 7
    assert batch_writer.pending == 3

    # Closing retries more often (its deadline is near), but still pauses between attempts.
    assert await batch_writer.close(timeout=0.6) == 3
    during_close = sample(metrics, "moot_transcript_flushes_total", outcome="failed") - attempts
    assert 1 <= during_close <= 5


# -- close -----------------------------------------------------------------------------------


async def test_close_writes_everything_pending_and_then_refuses_more(
    harness: Harness, db: asyncpg.Connection
) -> None:
    room_id = await new_room(db)
    batch_writer, metrics = await harness.writer(flush_interval=60, batch_size=20)
    for s in many(room_id, 45):
        batch_writer.put(s)

    assert await batch_writer.close(timeout=5) == 0
    assert len(await stored(db, room_id)) == 45
    assert [len(ids) for ids in harness.inserts] == [20, 20, 5]
    assert sample(metrics, "moot_transcript_queue_length") == 0
    with pytest.raises(RuntimeError):
        batch_writer.put(segment(room_id, "late"))
    assert await batch_writer.close(timeout=5) == 0


async def test_close_keeps_retrying_within_its_timeout(
    harness: Harness, db: asyncpg.Connection, locker: Any
) -> None:
    room_id = await new_room(db)
    pool = await harness.pool(lock_timeout="100ms")
    batch_writer, metrics = await harness.writer(pool, flush_interval=60, batch_size=100)
    await locker()
    for s in many(room_id, 5):
        batch_writer.put(s)

    closing = asyncio.create_task(batch_writer.close(timeout=10))

    async def failed_twice() -> bool:
        return sample(metrics, "moot_transcript_flushes_total", outcome="failed") >= 2

    # Waited for, not slept on: on a slow machine two lock timeouts can take longer than 0.5 s.
    await eventually(failed_twice, timeout=5)
    assert not closing.done()
    await locker.release()
    assert await closing == 0
    assert len(await stored(db, room_id)) == 5


async def test_close_reports_what_it_could_not_write_in_time(
    harness: Harness, db: asyncpg.Connection, locker: Any, logs: LogCapture
) -> None:
    room_id = await new_room(db)
    pool = await harness.pool(lock_timeout="100ms")
    batch_writer, metrics = await harness.writer(pool, flush_interval=60, batch_size=100)
    await locker()
    for s in many(room_id, 7):
        batch_writer.put(s)

    started = time.monotonic()
    assert await batch_writer.close(timeout=0.5) == 7
    assert time.monotonic() - started < 2
    assert sample(metrics, "moot_transcript_rows_dropped_total", reason="shutdown") == 7
    unwritten = [e for e in logs.entries if e["event"] == "transcript_segments_unwritten"]
    assert len(unwritten) == 1
    assert unwritten[0]["count"] == 7
    assert unwritten[0]["log_level"] == "error"


async def test_a_queue_over_its_limit_warns_once_and_keeps_every_segment(
    harness: Harness, db: asyncpg.Connection, locker: Any, logs: LogCapture
) -> None:
    room_id = await new_room(db)
    pool = await harness.pool(lock_timeout="100ms")
    batch_writer, _ = await harness.writer(
        pool, flush_interval=0.02, batch_size=5, max_pending=10, max_backoff=0.1
    )
    await locker()
    for s in many(room_id, 25):
        batch_writer.put(s)
    assert batch_writer.pending == 25
    warnings = [e for e in logs.entries if e["event"] == "transcript_queue_over_limit"]
    assert len(warnings) == 1

    await locker.release()
    await eventually(lambda: _count(db, room_id, 25))
    await eventually(drained(batch_writer))


# -- reading back --------------------------------------------------------------------------


async def test_pages_follow_the_timeline_with_a_cursor_that_never_repeats_or_skips(
    harness: Harness, db: asyncpg.Connection
) -> None:
    room_id, other_room = await new_room(db), await new_room(db)
    pool = await harness.pool()
    starts = {"e": 9.0, "a": 1.0, "c": 5.0, "b": 5.0, "d": 7.5, "f": 12.0, "g": 12.0}
    async with pool.acquire() as conn:
        await store.insert_segments(conn, [segment(room_id, u, s) for u, s in starts.items()])
        await store.insert_segments(conn, [segment(other_room, "other", 3.0)])
        everything = await store.all_segments(conn, room_id)
        # Timeline order; equal starts in the order they were stored (id).
        assert [s.utterance_id for s in everything] == ["a", "c", "b", "d", "e", "f", "g"]

        seen: list[str] = []
        after: int | None = None
        while True:
            page = await store.list_segments(conn, room_id, after=after, limit=2)
            seen += [s.utterance_id for s in page]
            if len(page) < 2:
                break
            after = page[-1].id
            if seen == ["a", "c", "b", "d"]:
                # Stored while paging, later in the timeline than the cursor: still read.
                await store.insert_segments(conn, [segment(room_id, "h", 8.0)])
        assert seen == ["a", "c", "b", "d", "h", "e", "f", "g"]

        a_id = everything[0].id
        assert [
            s.utterance_id for s in await store.list_segments(conn, room_id, after=a_id, limit=1)
        ] == ["c"]
        other_id = (await store.all_segments(conn, other_room))[0].id
        assert await store.list_segments(conn, room_id, after=other_id, limit=10) == []
        assert await store.list_segments(conn, room_id, after=10**12, limit=10) == []


async def test_segments_carry_the_speakers_latest_name_in_the_room(
    harness: Harness, db: asyncpg.Connection
) -> None:
    room_id, other_room = await new_room(db), await new_room(db)
    alice, bob, carol = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await seat(db, room_id, alice, "Alice", joined_seconds_ago=600, left=True)
    await seat(db, room_id, alice, "Alice (phone)", joined_seconds_ago=60)
    await seat(db, room_id, bob, "Bob", joined_seconds_ago=300, left=True)
    await seat(db, other_room, carol, "Carol", joined_seconds_ago=30)
    pool = await harness.pool()
    async with pool.acquire() as conn:
        await store.insert_segments(
            conn,
            [
                segment(room_id, "1", 1.0, participant_id=alice),
                segment(room_id, "2", 2.0, participant_id=bob),
                segment(room_id, "3", 3.0, participant_id=carol),  # never seated in this room
                segment(room_id, "4", 4.0),  # no participant
            ],
        )
        names = [s.display_name for s in await store.all_segments(conn, room_id)]
        page = await store.list_segments(conn, room_id, after=None, limit=10)
    assert names == ["Alice (phone)", "Bob", None, None]
    assert [s.display_name for s in page] == names
    assert page[0].participant_id == alice
    assert page[0].text == "text of 1"
    assert page[0].language == "en"
    assert (page[0].started_at, page[0].ended_at) == (1.0, 2.0)
    assert page[0].created_at.tzinfo is not None


# -- usage -------------------------------------------------------------------------------------


async def test_closing_sessions_adds_their_audio_to_the_rooms_usage_once(
    harness: Harness, db: asyncpg.Connection
) -> None:
    room_id, other_room = await new_room(db), await new_room(db)
    host = uuid.uuid4()
    pool = await harness.pool()
    async with pool.acquire() as conn:
        assert await usage(conn, room_id) == 0.0
        first = await store.open_session(conn, room_id, host, "gladia-1")
        second = await store.open_session(conn, room_id, host, None)
        assert await usage(conn, room_id) == 0.0  # counted when a session ends

        assert await store.close_session(conn, first, 12.5, "stopped") is True
        assert await store.close_session(conn, second, 7.25, "host_left") is True
        assert await usage(conn, room_id) == 19.75
        # A repeated close (a retry after a lost reply) changes nothing.
        assert await store.close_session(conn, first, 12.5, "stopped") is False
        assert await usage(conn, room_id) == 19.75
        assert await usage(conn, other_room) == 0.0
        assert await usage(conn, uuid.uuid4()) == 0.0
        with pytest.raises(ValueError, match="audio_seconds"):
            await store.close_session(conn, second, -1.0, "stopped")

    row = await db.fetchrow("SELECT * FROM transcription_sessions WHERE id = $1", first)
    assert row is not None
    assert (row["room_id"], row["participant_id"], row["gladia_id"]) == (room_id, host, "gladia-1")
    assert (row["audio_seconds"], row["end_reason"]) == (12.5, "stopped")
    assert row["ended_at"] is not None


async def test_a_failed_usage_update_leaves_the_session_open(
    harness: Harness, db: asyncpg.Connection
) -> None:
    """Session end and room total change together: a failure in one undoes the other."""
    room_id = await new_room(db)
    pool = await harness.pool()
    async with pool.acquire() as conn:
        session = await store.open_session(conn, room_id, uuid.uuid4(), None)
        await conn.execute(
            "ALTER TABLE room_transcriptions ADD CONSTRAINT test_usage_cap CHECK (seconds < 10)"
        )
        try:
            with pytest.raises(asyncpg.CheckViolationError):
                await store.close_session(conn, session, 30.0, "stopped")
        finally:
            await conn.execute("ALTER TABLE room_transcriptions DROP CONSTRAINT test_usage_cap")
        ended = await conn.fetchval(
            "SELECT ended_at FROM transcription_sessions WHERE id = $1", session
        )
        assert ended is None
        assert await store.close_session(conn, session, 3.0, "stopped") is True
        assert await usage(conn, room_id) == 3.0

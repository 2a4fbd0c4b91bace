"""Final transcript segments to PostgreSQL in batches: one COPY per batch, every
flush_interval or as soon as batch_size segments wait, retried until the database takes them.

`put` never blocks and never drops. It is called from the loop that reads Gladia's socket;
making it wait on PostgreSQL would stall that loop, and with it the live captions and the
audio forwarding of every room on the worker, so a database outage would become a
transcription outage. Gladia does not send a final twice, so the queue holds the only copy:
it is kept in memory however long it grows (a segment is a few hundred bytes; `max_pending`
only decides when to warn), and the queue length is exported as a gauge to alert on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections import deque

import asyncpg
import structlog

from moot.infra.metrics import Metrics
from moot.transcription import store
from moot.transcription.schemas import Segment

log = structlog.get_logger(__name__)


def _describe(error: BaseException) -> str:
    """An error's class and SQLSTATE, not its message: asyncpg quotes the rejected argument
    in some messages, and here that is transcript text (README, What is logged)."""
    sqlstate = getattr(error, "sqlstate", None)
    return f"{type(error).__name__} ({sqlstate})" if sqlstate else type(error).__name__


_PARALLEL = 2  # batches in flight at once when there is a backlog
_BACKLOG = 10  # more than this many batches waiting: write batches this many times bigger
_FIRST_RETRY = 0.05  # seconds before retrying a failed batch; doubles up to max_backoff
_CLOSING_RETRY = 0.2  # while closing there is a deadline: retry at least this often


def _rejected(exc: BaseException) -> bool:
    """Errors the same rows would get on every retry: bad data (SQLSTATE class 22, e.g. a
    language code too long) or a broken constraint (23, e.g. the room has been deleted).
    Anything else (connection lost, timeouts, locks, a server shutting down, even a missing
    table) may clear, so it is retried."""
    if isinstance(exc, asyncpg.PostgresError):
        return str(exc.sqlstate)[:2] in ("22", "23")
    # asyncpg's client-side DataError: a value it cannot encode for its column.
    return isinstance(exc, asyncpg.InterfaceError) and isinstance(exc, ValueError)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


def _report_crash(task: asyncio.Task[None]) -> None:
    # Failed writes are handled inside the loop; this is for a bug in the loop itself.
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("transcript_writer_crashed", error=_describe(error))


class BatchWriter:
    """Queue final segments and write them in batches from one background task.

    Close it (`await close(timeout)`) before closing the pool it writes through.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        flush_interval: float,
        batch_size: int,
        metrics: Metrics,
        max_pending: int = 100_000,
        max_backoff: float = 5.0,
    ) -> None:
        if flush_interval <= 0 or batch_size < 1 or max_pending < 1 or max_backoff <= 0:
            raise ValueError("flush_interval, batch_size, max_pending, max_backoff must be > 0")
        self._pool = pool
        self._flush_interval = flush_interval
        self._batch_size = batch_size
        self._metrics = metrics
        self._max_pending = max_pending
        self._max_backoff = max_backoff
        # (time the segment arrived, segment), oldest first. A batch leaves the queue only
        # once it is written, so a failed batch stays at the front and goes first again.
        self._pending: deque[tuple[float, Segment]] = deque()
        self._wake = asyncio.Event()  # a first segment arrived, a batch filled, or closing
        self._progress = asyncio.Event()  # segments left the queue (written or given up)
        self._closing_event = asyncio.Event()  # cuts a retry pause short when closing
        self._closing = False
        self._over_limit = False
        self._task: asyncio.Task[None] | None = None
        self._unwritten: int | None = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("the transcript writer is already started")
        self._task = asyncio.create_task(self._run(), name="transcript-writer")
        self._task.add_done_callback(_report_crash)

    def put(self, segment: Segment) -> None:
        """Queue a final segment. Never blocks, never drops; raises once close() has begun."""
        if self._closing:
            raise RuntimeError("the transcript writer is closed")
        self._pending.append((time.monotonic(), segment))
        count = len(self._pending)
        self._metrics.transcript_queue_length.set(count)
        if count == 1 or count >= self._batch_size:
            self._wake.set()
        if count > self._max_pending and not self._over_limit:
            self._over_limit = True
            log.warning(
                "transcript_queue_over_limit",
                pending=count,
                max_pending=self._max_pending,
                note="segments are kept; PostgreSQL is not keeping up or is unreachable",
            )

    async def settled(self, room_id: uuid.UUID, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until no segment of this room is left in the queue (each stored, skipped as a
        duplicate or given up), at most `timeout` seconds; True if none is left."""
        deadline = time.monotonic() + timeout
        while any(segment.room_id == room_id for _, segment in self._pending):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._progress.clear()
            await _wait(self._progress, left)
        return True

    async def close(self, timeout: float) -> int:  # noqa: ASYNC109 - a deadline, not a cancel scope
        """Stop taking segments and write everything pending, retrying failures until
        `timeout` seconds have passed. Returns how many segments could not be written (and
        logs them as an error); 0 means all are stored."""
        if self._unwritten is not None:
            return self._unwritten
        self._closing = True
        self._closing_event.set()
        self._wake.set()
        if self._task is None:
            self.start()
        assert self._task is not None
        done, _ = await asyncio.wait({self._task}, timeout=timeout)
        if not done:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._unwritten = len(self._pending)
        if self._unwritten:
            # An insert cancelled in flight may have committed: these are "maybe not stored";
            # a later write of the same utterances would be skipped as duplicates.
            self._metrics.transcript_rows_dropped.labels("shutdown").inc(self._unwritten)
            log.error(
                "transcript_segments_unwritten",
                count=self._unwritten,
                rooms=len({segment.room_id for _, segment in self._pending}),
                timeout=timeout,
            )
        return self._unwritten

    async def _run(self) -> None:
        backoff = _FIRST_RETRY
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            if len(self._pending) < self._batch_size and not self._closing:
                # Not a full batch yet: wait until the oldest segment has waited an interval.
                delay = self._pending[0][0] + self._flush_interval - time.monotonic()
                if delay > 0:
                    self._wake.clear()
                    await _wait(self._wake, delay)
                    continue
            # A backlog is written by up to `_PARALLEL` batches at once, on their own
            # connections: PostgreSQL stores one while we encode the next. A long one (the
            # database was slow or away) goes in bigger batches, paying each statement's
            # fixed cost once per thousand rows rather than per hundred (bench/, ingest).
            size = self._batch_size
            if len(self._pending) > size * _BACKLOG:
                size *= _BACKLOG
            queued = [segment for _, segment in itertools.islice(self._pending, size * _PARALLEL)]
            batches = [queued[at : at + size] for at in range(0, len(queued), size)]
            errors = await asyncio.gather(*(self._flush(batch) for batch in batches))
            # Drop what is stored from the front; a failed batch and those after it stay
            # (any of them already stored is skipped as a duplicate when retried).
            for batch, failure in zip(batches, errors, strict=True):
                if failure is not None:
                    break
                for _ in batch:
                    self._pending.popleft()
            self._progress.set()
            self._metrics.transcript_queue_length.set(len(self._pending))
            if len(self._pending) <= self._max_pending:
                self._over_limit = False
            error = next((failure for failure in errors if failure is not None), None)
            if error is None:
                backoff = _FIRST_RETRY
                continue
            batch = batches[errors.index(error)]
            pause = min(backoff, _CLOSING_RETRY) if self._closing else backoff
            log.warning(
                "transcript_flush_failed",
                rows=len(batch),
                pending=len(self._pending),
                retry_in=round(pause, 3),
                error=_describe(error),
            )
            if self._closing:
                await asyncio.sleep(pause)
            else:
                # Only close() cuts the pause short: segments arriving during an outage must
                # not turn the backoff into a busy loop against the database.
                await _wait(self._closing_event, pause)
            backoff = min(backoff * 2, self._max_backoff)

    async def _flush(self, batch: list[Segment]) -> Exception | None:
        """Write one batch; None when it is done (stored, skipped or rejected), else the error
        to retry on."""
        started = time.perf_counter()
        rejected: list[tuple[Segment, Exception]] = []
        try:
            async with self._pool.acquire() as conn:
                try:
                    inserted = await store.insert_segments(conn, batch)
                except Exception as exc:
                    if not _rejected(exc):
                        raise
                    inserted, rejected = await self._write_one_by_one(conn, batch)
        except Exception as exc:
            self._metrics.transcript_flushes.labels("failed").inc()
            return exc
        finally:
            self._metrics.transcript_flush_seconds.observe(time.perf_counter() - started)
        self._metrics.transcript_flushes.labels("ok").inc()
        self._metrics.transcript_rows_written.inc(inserted)
        self._metrics.transcript_duplicates_skipped.inc(len(batch) - inserted - len(rejected))
        if rejected:
            self._metrics.transcript_rows_dropped.labels("rejected").inc(len(rejected))
        for segment, reason in rejected:
            log.error(
                "transcript_segment_rejected",
                room_id=str(segment.room_id),
                utterance_id=segment.utterance_id,
                error=_describe(reason),
            )
        return None

    async def _write_one_by_one(
        self, conn: store.Conn, batch: list[Segment]
    ) -> tuple[int, list[tuple[Segment, Exception]]]:
        """The database refused the batch for its content: write each segment alone so only
        the ones it will never accept are given up. Rare (a room deleted while its segments
        waited), so one statement per segment is fine here. A retryable error propagates and
        the whole batch is retried; segments stored meanwhile are then skipped as duplicates.
        """
        inserted = 0
        rejected: list[tuple[Segment, Exception]] = []
        for segment in batch:
            try:
                inserted += await store.insert_segments(conn, [segment])
            except Exception as exc:
                if not _rejected(exc):
                    raise
                rejected.append((segment, exc))
        return inserted, rejected

"""Prometheus metrics. One registry per app so tests can build many apps in one process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "moot_http_requests_total",
            "HTTP requests served, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "moot_http_request_duration_seconds",
            "HTTP request latency, by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.db_pool_size = Gauge(
            "moot_db_pool_connections",
            "Connections open in the PostgreSQL pool.",
            registry=self.registry,
        )
        self.db_pool_idle = Gauge(
            "moot_db_pool_idle_connections",
            "Idle connections in the PostgreSQL pool.",
            registry=self.registry,
        )
        self.db_pool_max = Gauge(
            "moot_db_pool_max_connections",
            "Configured PostgreSQL pool size.",
            registry=self.registry,
        )
        self.rooms_active = Gauge(
            "moot_rooms_active", "Rooms with status active.", registry=self.registry
        )
        self.participants_active = Gauge(
            "moot_participants_active",
            "Participants currently in an active room.",
            registry=self.registry,
        )
        self.websockets_open = Gauge(
            "moot_websockets_open",
            "Room WebSockets open on this instance.",
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "moot_rate_limited_total",
            "Requests refused by a rate limit.",
            ["limit"],
            registry=self.registry,
        )
        self.cleanup_runs = Counter(
            "moot_cleanup_runs_total",
            "Cleanup passes, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.rooms_ended_by_cleanup = Counter(
            "moot_cleanup_rooms_ended_total",
            "Rooms ended by cleanup, by reason.",
            ["reason"],
            registry=self.registry,
        )
        # TURN health, written by moot.media.turn_probe.record after each probe run. The names
        # carry no moot_ prefix: they describe the TURN servers, whoever probes them.
        turn_labels = ["server", "port", "transport"]
        self.turn_port_availability = Gauge(
            "turn_port_availability",
            "1 if the TURN server answered STUN on this port and transport, else 0.",
            turn_labels,
            registry=self.registry,
        )
        self.turn_auth_success = Counter(
            "turn_auth_success",
            "Probe allocations the TURN server granted with our credentials.",
            turn_labels,
            registry=self.registry,
        )
        self.turn_auth_failure = Counter(
            "turn_auth_failure",
            "Probe allocations a reachable TURN server refused or got wrong.",
            turn_labels,
            registry=self.registry,
        )
        self.turn_health_last_run_timestamp = Gauge(
            "turn_health_last_run_timestamp",
            "Unix time the last TURN probe run finished.",
            registry=self.registry,
        )
        self.turn_health_duration_seconds = Gauge(
            "turn_health_duration_seconds",
            "Wall time of the last TURN probe run (servers are probed concurrently).",
            registry=self.registry,
        )
        # Final transcript segments on their way to PostgreSQL (moot.transcription.writer).
        self.transcript_queue_length = Gauge(
            "moot_transcript_queue_length",
            "Final transcript segments waiting to be written.",
            registry=self.registry,
        )
        self.transcript_flushes = Counter(
            "moot_transcript_flushes_total",
            "Batch writes of transcript segments, by outcome (ok, failed: will be retried).",
            ["outcome"],
            registry=self.registry,
        )
        self.transcript_rows_written = Counter(
            "moot_transcript_rows_written_total",
            "Transcript segments stored.",
            registry=self.registry,
        )
        self.transcript_duplicates_skipped = Counter(
            "moot_transcript_duplicates_skipped_total",
            "Transcript segments skipped because their utterance was already stored.",
            registry=self.registry,
        )
        self.transcript_rows_dropped = Counter(
            "moot_transcript_rows_dropped_total",
            "Transcript segments given up on: rejected by the database (e.g. room deleted), "
            "or still pending when shutdown ran out of time.",
            ["reason"],
            registry=self.registry,
        )
        self.transcript_flush_seconds = Histogram(
            "moot_transcript_flush_seconds",
            "Time to write one batch of transcript segments, failed attempts included.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        # Gladia live sessions, written by moot.transcription.gladia.
        self.gladia_sessions = Counter(
            "moot_gladia_sessions_total",
            "Gladia live sessions opened (POST /v2/live accepted).",
            registry=self.registry,
        )
        self.gladia_errors = Counter(
            "moot_gladia_errors_total",
            "Gladia failures, by kind (init, auth, config, connect, disconnect, protocol, server, "
            "overflow).",
            ["kind"],
            registry=self.registry,
        )
        self.gladia_reconnects = Counter(
            "moot_gladia_reconnects_total",
            "Gladia live websockets reconnected to the same session URL after a drop.",
            registry=self.registry,
        )
        # Gauges that are read from the stores at scrape time.
        self._refreshers: list[Callable[[], Awaitable[None]]] = []

    def on_scrape(self, refresh: Callable[[], Awaitable[None]]) -> None:
        self._refreshers.append(refresh)

    async def render(self) -> bytes:
        for refresh in self._refreshers:
            await refresh()
        return generate_latest(self.registry)

"""`scripts/dev bench` — measure moot against its targets; prints markdown, writes JSON.

scripts/dev bench                 the full run (chat fan-out sizes in bench/chat_fanout.py),
                                  then the comparison against Prosody (bench/peer.py)
scripts/dev bench --smoke         a tiny run that checks the harness works (without the peer)
scripts/dev bench peer            only the comparison against Prosody (--smoke: tiny)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from bench import peer
from bench.capacity import capacity
from bench.chat_fanout import SIZES, SMOKE_SIZES, chat_fanout, run_fanout
from bench.join import join, run_join
from bench.redis_limit import redis_limit
from bench.server import MootProcess
from bench.transcript_ingest import transcript_ingest_median
from moot.infra.embedded import EmbeddedServices

TARGETS = {
    "joins_per_second": 1_000,
    "join_p99_ms": 50,
    "deliveries_per_second_at_500": 20_000,
    "p99_ms_at_500": 100,
    "ingest_writer_vs_per_row": 20,
    "ingest_writer_vs_copy": 0.7,
    "moot_vs_raw_redis": 0.3,
    "kib_per_idle_socket": 29.3,  # 30 KB
    "cold_start_seconds": 3,
}


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def reference_ms() -> float:
    """How fast the machine is right now: a fixed pure-Python loop, median of 5, in ms.

    The shared machine this runs on drifts (the same commit has measured twice as slow an hour
    later); runs are comparable only next to this figure."""
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        total = 0
        for n in range(2_000_000):
            total += n
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 1)


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"### moot benchmark — {report['date']}",
        "",
        f"Machine: {report['machine']}. One `moot serve` process (uvicorn), embedded "
        f"PostgreSQL and Valkey; the driver is a separate process. Cold start to /ready: "
        f"{report['cold_start_seconds']:.2f} s. Machine speed, a fixed pure-Python loop: "
        f"{report['reference_ms'][0]} ms at the start, {report['reference_ms'][1]} ms at the "
        f"end (lower is faster; compare runs only next to it). The run took "
        f"{report['run_seconds'] / 60:.1f} minutes.",
        "",
        "#### join + media token",
        "",
        "| guests | rooms | in flight | media access | joins/s | p50 ms "
        "| p99 ms (median [all runs]) | errors | CPU µs per join: moot / PostgreSQL / Valkey "
        "/ driver |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {j['guests']} | {j['rooms']} | {j['concurrency']} "
            f"| {'then POST …/media/token' if j['separate_token'] else 'in the join response'} "
            f"| {j['joins_per_second']:,.0f} | {j['latency_p50_ms']} "
            f"| {j['latency_p99_ms']} [{', '.join(f'{v:g}' for v in j['all_latency_p99_ms'])}] "
            f"| {j['errors']} | {' / '.join(str(v) for v in j['cpu_us_per_join'].values())} |"
            for j in report["join"]
        ),
        "",
        "#### chat-fanout",
        "",
        f"Median of {report['repeat']} run(s) per size; p99 of every run in brackets.",
        "",
        "| rooms × subscribers | sockets | offered/s | deliveries/s | p50 ms | p99 ms | lost |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in report["chat_fanout"]:
        p99s = ", ".join(f"{v:g}" for v in r["all_latency_p99_ms"])
        lines.append(
            f"| {r['rooms']} × {r['subscribers']} | {r['sockets']} "
            f"| {r['offered_per_second']:,} | {r['deliveries_per_second']:,.0f} "
            f"| {r['latency_p50_ms']} | {r['latency_p99_ms']} [{p99s}] | {r['lost']} |"
        )
    lines += [
        "",
        "#### limit: the same fan-out over raw Redis pub/sub (no moot)",
        "",
        "| rooms × subscribers | offered/s | raw deliveries/s | p99 ms | moot deliveries/s "
        "| moot ÷ raw |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for raw, ours in zip(report["redis_limit"], report["chat_fanout"], strict=True):
        lines.append(
            f"| {raw['rooms']} × {raw['subscribers']} | {raw['offered_per_second']:,} "
            f"| {raw['deliveries_per_second']:,.0f} | {raw['latency_p99_ms']} "
            f"| {ours['deliveries_per_second']:,.0f} "
            f"| {ours['deliveries_per_second'] / raw['deliveries_per_second']:.2f} |"
        )
    cap = report["capacity"]
    lines += [
        "",
        "#### capacity",
        "",
        f"{cap['sockets']:,} idle room WebSockets on one process (opened in "
        f"{cap['open_seconds']} s): RSS {cap['rss_before_mib']} → {cap['rss_after_mib']} MiB, "
        f"**{cap['kib_per_socket']} KiB per socket**. Cold start: "
        f"{report['cold_start_seconds']:.2f} s.",
    ]
    if report.get("servers"):
        lines += [
            "",
            "#### uvicorn vs granian (same app, one worker process each, one run each)",
            "",
            "| server | cold start s | joins/s (16 in flight) | join p99 ms "
            "| fan-out 20×25 @ 40k/s offered: "
            "deliveries/s | p50 ms | p99 ms |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for kind, r in report["servers"].items():
            lines.append(
                f"| {kind} | {r['cold_start_seconds']} | {r['joins_per_second']:,.0f} "
                f"| {r['join_p99_ms']} | {r['deliveries_per_second']:,.0f} "
                f"| {r['fanout_p50_ms']} | {r['fanout_p99_ms']} |"
            )
    ingest = report["transcript_ingest"]
    lines += [
        "",
        "#### transcript-ingest",
        "",
        f"{ingest['segments']:,} final segments per method into `transcript_segments`, median "
        f"of {ingest['runs']} round(s); the ratios are the median of each round's ratio:",
        "",
        "| method | segments/s (median) | all runs |",
        "| --- | --- | --- |",
    ]
    for method, rate in ingest["median_segments_per_second"].items():
        runs = ", ".join(f"{v:,.0f}" for v in ingest["all_segments_per_second"][method])
        lines.append(f"| {method} | {rate:,.0f} | {runs} |")
    lines += [
        "",
        f"Batch writer vs per-row: {ingest['writer_vs_per_row']}× "
        f"[{', '.join(f'{v:g}' for v in ingest['all_writer_vs_per_row'])}]; vs COPY all at "
        f"once: {ingest['writer_vs_copy']}× "
        f"[{', '.join(f'{v:g}' for v in ingest['all_writer_vs_copy'])}]; vs COPY in batches "
        f"of 100: {ingest['writer_vs_copy_batched']}×.",
    ]
    return "\n".join(lines)


def compare_servers(seconds: float) -> dict[str, Any]:
    """The same join run (16 in flight) and a short saturating fan-out on uvicorn and on
    granian, one run each: a side-by-side check, kept short so the whole bench stays under
    10 minutes."""
    results: dict[str, Any] = {}
    for kind in ("uvicorn", "granian"):
        with MootProcess(extra_env={"MOOT_SERVER": kind}) as server:
            asyncio.run(run_join(server, 300, 10, 8))  # warm-up, as in the join scenario
            j = asyncio.run(run_join(server, 2000, 100, 16))
            f = asyncio.run(run_fanout(server, 20, 25, 80.0, seconds))
            results[kind] = {
                "cold_start_seconds": round(server.cold_start_seconds, 2),
                "joins_per_second": j.joins_per_second,
                "join_p99_ms": j.latency_p99_ms,
                "deliveries_per_second": f.deliveries_per_second,
                "fanout_p50_ms": f.latency_p50_ms,
                "fanout_p99_ms": f.latency_p99_ms,
                "lost": f.lost,
            }
    return results


def peer_only(smoke: bool, seconds: float, repeat: int, out: Path) -> None:
    """`scripts/dev bench peer`: moot and Prosody side by side, nothing else."""
    began = time.perf_counter()
    speed_before = reference_ms()
    with MootProcess() as server:
        compared = peer.peer(server, smoke, seconds, repeat)
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "reference_ms": [speed_before, reference_ms()],
        "repeat": repeat,
        "peer": compared,
    }
    report["run_seconds"] = round(time.perf_counter() - began)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    (out / f"peer-{'smoke-' if smoke else ''}{stamp}.json").write_text(json.dumps(report, indent=2))
    print(
        f"### moot against Prosody — {report['date']}\n\nMachine: {report['machine']}. "
        f"Machine speed, a fixed pure-Python loop: {report['reference_ms'][0]} ms at the start, "
        f"{report['reference_ms'][1]} ms at the end. The run took "
        f"{report['run_seconds'] / 60:.1f} minutes.\n"
    )
    print(peer.markdown(compared))
    print()
    print(json.dumps(report))


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument(
        "mode", nargs="?", choices=["all", "peer"], default="all", help="peer: only vs Prosody"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; checks the harness")
    parser.add_argument("--seconds", type=float, default=None, help="send phase per size")
    parser.add_argument("--repeat", type=int, default=None, help="runs per size (median)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    seconds = args.seconds or (1.0 if args.smoke else 6.0)
    repeat = args.repeat or (1 if args.smoke else 3)

    if args.mode == "peer":
        peer_only(args.smoke, 0.5 if args.smoke else 5.0, repeat, args.out)
        return

    began = time.perf_counter()
    speed_before = reference_ms()
    with MootProcess() as server:
        joins = asyncio.run(join(server, args.smoke, repeat))
        fanout = asyncio.run(chat_fanout(server, args.smoke, seconds, repeat))
        raw = asyncio.run(
            redis_limit(
                f"unix://{server.data_dir / 'valkey' / 'valkey.sock'}",
                SMOKE_SIZES if args.smoke else SIZES,
                seconds,
                repeat,
            )
        )
        held = asyncio.run(capacity(server, 20 if args.smoke else 5000))
        # The server's embedded PostgreSQL, attached to (not started again) by data dir.
        postgres = EmbeddedServices(server.data_dir)
        postgres.start(postgres=True, redis=False)
        try:
            ingest = asyncio.run(
                transcript_ingest_median(
                    postgres.database_url, 500 if args.smoke else 10_000, repeat
                )
            )
        finally:
            postgres.stop()
        report: dict[str, Any] = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": machine(),
            "cold_start_seconds": round(server.cold_start_seconds, 3),
            "reference_ms": [speed_before, 0.0],
            "repeat": repeat,
            "join": joins,
            "chat_fanout": fanout,
            "redis_limit": raw,
            "capacity": held,
            "transcript_ingest": ingest,
            "targets": TARGETS,
        }
    if not args.smoke:
        report["servers"] = compare_servers(seconds / 2)
        with MootProcess() as server:
            report["peer"] = peer.peer(server, False, 5.0, repeat)
    report["reference_ms"][1] = reference_ms()
    report["run_seconds"] = round(time.perf_counter() - began)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    (args.out / f"{'smoke' if args.smoke else 'full'}-{stamp}.json").write_text(
        json.dumps(report, indent=2)
    )
    print(markdown(report))
    if "peer" in report:
        print()
        print(peer.markdown(report["peer"]))
    print()
    print(json.dumps(report))


if __name__ == "__main__":
    main()

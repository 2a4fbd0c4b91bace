"""`scripts/dev bench` — measure moot against its targets; prints markdown, writes JSON.

    scripts/dev bench                 the full run (chat fan-out sizes in bench/chat_fanout.py)
    scripts/dev bench --smoke         a tiny run that checks the harness works
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from bench.chat_fanout import chat_fanout
from bench.server import MootProcess
from bench.transcript_ingest import transcript_ingest_median
from moot.infra.embedded import EmbeddedServices

TARGETS = {
    "deliveries_per_second_at_500": 20_000,
    "p99_ms_at_500": 100,
    "ingest_writer_vs_per_row": 20,
    "ingest_writer_vs_copy": 0.7,
}


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"### moot benchmark — {report['date']}",
        "",
        f"Machine: {report['machine']}. One `moot serve` process (uvicorn), embedded "
        f"PostgreSQL and Valkey; the driver is a separate process. Cold start to /ready: "
        f"{report['cold_start_seconds']:.2f} s.",
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
    ingest = report["transcript_ingest"]
    lines += [
        "",
        "#### transcript-ingest",
        "",
        f"{ingest['segments']:,} final segments per method into `transcript_segments`, median "
        f"of {ingest['runs']} round(s):",
        "",
        "| method | segments/s (median) | all runs |",
        "| --- | --- | --- |",
    ]
    for method, rate in ingest["median_segments_per_second"].items():
        runs = ", ".join(f"{v:,.0f}" for v in ingest["all_segments_per_second"][method])
        lines.append(f"| {method} | {rate:,.0f} | {runs} |")
    lines += [
        "",
        f"Batch writer vs per-row: {ingest['writer_vs_per_row']}×; vs COPY all at once: "
        f"{ingest['writer_vs_copy']}×; vs COPY in batches of the same size: "
        f"{ingest['writer_vs_copy_batched']}×.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; checks the harness")
    parser.add_argument("--seconds", type=float, default=None, help="send phase per size")
    parser.add_argument("--repeat", type=int, default=None, help="runs per size (median)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    seconds = args.seconds or (1.0 if args.smoke else 8.0)
    repeat = args.repeat or (1 if args.smoke else 3)

    with MootProcess() as server:
        fanout = asyncio.run(chat_fanout(server, args.smoke, seconds, repeat))
        # The server's embedded PostgreSQL, attached to (not started again) by data dir.
        postgres = EmbeddedServices(server.data_dir)
        postgres.start(postgres=True, redis=False)
        try:
            ingest = asyncio.run(transcript_ingest_median(
                postgres.database_url, 500 if args.smoke else 20_000, repeat
            ))
        finally:
            postgres.stop()
        report = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": machine(),
            "cold_start_seconds": round(server.cold_start_seconds, 3),
            "repeat": repeat,
            "chat_fanout": fanout,
            "transcript_ingest": ingest,
            "targets": TARGETS,
        }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    (args.out / f"{'smoke' if args.smoke else 'full'}-{stamp}.json").write_text(
        json.dumps(report, indent=2)
    )
    print(markdown(report))
    print()
    print(json.dumps(report))


if __name__ == "__main__":
    main()

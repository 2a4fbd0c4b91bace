"""The benchmark harness works end to end (a tiny run; speed is not asserted here)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def test_the_bench_smoke_run_delivers_every_message(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path)],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "#### chat-fanout" in done.stdout
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["cold_start_seconds"] > 0
    assert len(report["chat_fanout"]) == 2
    for size in report["chat_fanout"]:
        assert size["messages_sent"] > 0
        assert size["deliveries"] == size["deliveries_expected"]
        assert size["lost"] == 0
    assert [(j["separate_token"], j["errors"]) for j in report["join"]] == [(False, 0), (True, 0)]
    assert report["join"][0]["joins_per_second"] > 0
    assert [size["lost"] for size in report["redis_limit"]] == [0, 0]
    assert report["capacity"]["sockets"] == 20
    for heading in ("#### join + media token", "#### limit", "#### capacity"):
        assert heading in done.stdout
    ingest = report["transcript_ingest"]
    assert "#### transcript-ingest" in done.stdout
    # Every method stored every segment (the harness asserts it) and reported a rate.
    assert len(ingest["median_segments_per_second"]) == 4
    assert all(rate > 0 for rate in ingest["median_segments_per_second"].values())
    assert list(tmp_path.glob("smoke-*.json"))


@pytest.mark.skipif(
    shutil.which("prosody") is None,
    reason="prosody is not installed (Debian: apt-get install prosody); scripts/dev test adds it",
)
def test_the_peer_comparison_delivers_every_message_on_both_sides(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "peer", "--smoke", "--out", str(tmp_path)],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "#### against Prosody's MUC" in done.stdout
    report = json.loads(done.stdout.strip().splitlines()[-1])["peer"]
    assert "skipped" not in report, report.get("skipped")
    [size] = report["fanout"]
    for server in ("moot", "prosody"):
        run = size[server]
        assert run["server"] == server
        assert run["deliveries"] == run["messages"] * size["size"] > 0
        assert (run["lost"], run["paced_lost"]) == (0, 0)
        joins = report["join"][server]
        assert joins["errors"] == 0
        assert joins["joins_per_second"] > 0
    assert list(tmp_path.glob("peer-smoke-*.json"))

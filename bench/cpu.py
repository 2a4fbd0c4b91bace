"""CPU time spent by each process of a run, read from /proc (Linux).

On a machine whose speed drifts, CPU time per operation says more than a rate: it shows where
the work goes (moot, PostgreSQL, Valkey, the driver) and it does not count the waiting.
"""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds, its own and its waited-for children's) or None if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), sum(int(f) for f in fields[11:15]) / _TICKS


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds so far of one process (and its waited-for children); 0 if it is gone."""
    found = _stat(pid)
    return found[1] if found is not None else 0.0


def cpu_seconds(server_pid: int, data_dir: Path) -> dict[str, float]:
    """CPU seconds so far of the moot process, its embedded PostgreSQL (the postmaster and its
    backends) and Valkey (a child of moot), and the driver (this process)."""
    postmaster = int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
    totals = {"moot": 0.0, "postgres": 0.0, "valkey": 0.0, "driver": 0.0}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        found = _stat(pid)
        if found is None:
            continue
        parent, seconds = found
        if pid == server_pid:
            totals["moot"] += seconds
        elif pid == os.getpid():
            totals["driver"] += seconds
        elif pid == postmaster or parent == postmaster:
            totals["postgres"] += seconds
        elif parent == server_pid:
            totals["valkey"] += seconds
    return totals

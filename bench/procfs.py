"""What a process costs, read from /proc: CPU seconds, resident memory, open file descriptors."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def rss_bytes(pid: int) -> int:
    """VmRSS."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@dataclass
class CpuWindow:
    """CPU of some processes over a wall-clock window, as % of one core."""

    seconds: float
    percent: dict[int, float]


def cpu_window(pids: list[int], seconds: float) -> CpuWindow:
    before = {pid: cpu_seconds(pid) for pid in pids}
    start = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - start
    after = {pid: cpu_seconds(pid) for pid in pids}
    return CpuWindow(elapsed, {pid: 100 * (after[pid] - before[pid]) / elapsed for pid in pids})


def load_average() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())

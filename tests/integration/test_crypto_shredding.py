"""Invariant 2: after a canary frame is evicted from the ring, neither its plaintext nor the key that
sealed it can be found anywhere in the process's memory (`/proc/<pid>/mem`, read as root)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PRE_ROLL_S = 1.0


def _readable_regions(pid: int) -> list[tuple[int, int, str]]:
    regions = []
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split()
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if fields[1].startswith("r") and (len(fields) < 6 or fields[5] != "[vvar]"):
            regions.append((start, end, fields[5] if len(fields) > 5 else "[anon]"))
    return regions


def _scan(pid: int, needles: dict[str, bytes]) -> dict[str, list[str]]:
    """Where in the process's memory each needle occurs (region names)."""
    found: dict[str, list[str]] = {name: [] for name in needles}
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for start, end, name in _readable_regions(pid):
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except OSError:
                continue
            for label, needle in needles.items():
                if needle in data:
                    found[label].append(name)
    return found


@pytest.mark.skipif(os.geteuid() != 0, reason="reading another process's memory needs root")
@pytest.mark.parametrize("frame_bytes", [30_000, 150_000])
def test_evicted_canary_and_its_key_are_gone_from_memory(frame_bytes: int) -> None:
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("canary_child.py")), str(PRE_ROLL_S), str(frame_bytes)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert child.stdout is not None
    try:
        lines = {}
        for line in child.stdout:  # the child's own log lines come first
            word, _, value = line.partition(" ")
            lines[word] = value.strip()
            if word == "evicted":
                break
        canary, key = bytes.fromhex(lines["canary"]), bytes.fromhex(lines["key"])
        # Several windows of the canary, so that a partly overwritten freed copy still counts.
        needles = {
            "key": key,
            **{f"canary@{i}": canary[i : i + 64] for i in (64, len(canary) // 2, len(canary) - 64)},
        }
        found = _scan(child.pid, needles)
    finally:
        child.kill()
        child.wait()
    assert found["key"] == [], f"the destroyed key is still in memory: {found['key']}"
    leaks = {label: where for label, where in found.items() if where}
    assert not leaks, f"canary plaintext still in memory after eviction: {leaks}"

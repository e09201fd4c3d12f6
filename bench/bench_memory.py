"""Resident memory against the ring's bytes: a daemon with a full 30 s pre-roll vs one with none."""

from __future__ import annotations

import json
import time

from bench.camera_farm import CameraFarm, make_clip
from bench.figures import Context, Figure, Section
from bench.procfs import rss_bytes
from bench.rooms import FPS, camera_section, spawn, wait_ready
from recorder.demo import free_tcp_port
from recorder.router import RING_REPORT_S
from tests.support import RunningDaemon

SAMPLE_EVERY_S = RING_REPORT_S + 0.5


def ring_bytes(daemon: RunningDaemon) -> int:
    """The last `ring_occupancy` the daemon logged (it runs with --log-level debug). Raises
    RuntimeError if there is none."""
    for line in reversed(daemon.log_text().splitlines()):
        if '"ring_occupancy"' in line:
            return int(json.loads(line)["bytes"])
    raise RuntimeError(f"no ring_occupancy in {daemon.log_path}")


def measure(ctx: Context) -> Section:
    pre_roll_s = 3.0 if ctx.quick else 30.0
    ports = [free_tcp_port(), free_tcp_port()]
    farm = CameraFarm(make_clip(ctx.work / "camera.mkv"), ports, FPS)
    runs: dict[str, list[float]] = {"ring": [], "with": [], "without": [], "extra": []}
    try:
        full = spawn(ctx.work / "memory-ring", camera_section(farm.url(ports[0])), pre_roll_s, debug=True)
        bare = spawn(ctx.work / "memory-none", camera_section(farm.url(ports[1])), 0.0)
        wait_ready([full, bare])
        ctx.log(f"memory: filling a {pre_roll_s:g} s ring")
        time.sleep(pre_roll_s + SAMPLE_EVERY_S)
        for _ in range(ctx.runs):
            with_ring, without = rss_bytes(full.process.pid), rss_bytes(bare.process.pid)
            runs["ring"].append(ring_bytes(full) / 1e6)
            runs["with"].append(with_ring / 1e6)
            runs["without"].append(without / 1e6)
            runs["extra"].append((with_ring - without) / 1e6)
            time.sleep(SAMPLE_EVERY_S)
        full.stop()
        bare.stop()
    finally:
        farm.stop()
    section = Section(
        "memory",
        f"Memory: RSS against the ring's bytes at a {pre_roll_s:g} s pre-roll",
        "Two daemons side by side on HTTP cameras (1280×720@15, ~60 KB frames) and the tone: one with "
        f"a {pre_roll_s:g} s pre-roll, one with none (no ring at all). Once the ring is full, VmRSS of "
        "both and the ring's own count of its ciphertext bytes (`ring_occupancy`, logged at debug "
        f"level every {RING_REPORT_S:g} s), sampled {ctx.runs} times.",
    )
    section.add(Figure("ring", "ring bytes (ciphertext + tags)", "MB", runs["ring"], digits=1))
    section.add(Figure("without", "VmRSS, daemon without a pre-roll", "MB", runs["without"], digits=1))
    section.add(
        Figure("with", f"VmRSS, daemon with a full {pre_roll_s:g} s ring", "MB", runs["with"], digits=1)
    )
    section.add(Figure("extra", "VmRSS difference", "MB", runs["extra"], "ring", "≈ 1×", digits=1))
    return section

"""Trigger → pre-roll durable on disk, with camera-sized frames, against the disk's own fsync'd sequential
write speed (`dd oflag=dsync`) measured in the same run, on the same file system."""

from __future__ import annotations

import re
import statistics
import subprocess
import time
from pathlib import Path

from bench.camera_farm import CameraFarm, make_clip
from bench.commit import Commit, trigger_and_commit
from bench.figures import Context, Figure, Section
from bench.rooms import FPS, camera_section, spawn, wait_ready
from recorder.demo import free_tcp_port

CHUNK = 64 * 1024  # the incident writer fsyncs chunk by chunk: dd writes and syncs the same blocks


def dd_seconds(directory: Path, size: int, block: int = CHUNK) -> float:
    """Seconds `dd oflag=dsync` takes to write `size` bytes in `block`-sized synchronous writes."""
    target = directory / "dd.bin"
    count = max(1, size // block)
    result = subprocess.run(
        ["dd", "if=/dev/zero", f"of={target}", f"bs={block}", f"count={count}", "oflag=dsync"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    target.unlink()
    match = re.search(r"copied, ([\d.]+) s", result.stderr)
    if match is None:
        raise RuntimeError(f"cannot read dd's output: {result.stderr.strip()}")
    return float(match.group(1)) * size / (count * block)


def measure(ctx: Context) -> Section:
    pre_roll_s = 2.0 if ctx.quick else 30.0
    port = free_tcp_port()
    farm = CameraFarm(make_clip(ctx.work / "camera.mkv"), [port], FPS)
    commits: list[Commit] = []
    dd_ms: list[float] = []
    dd_1m_ms: list[float] = []
    try:
        daemon = spawn(ctx.work / "preroll", camera_section(farm.url(port)), pre_roll_s, post_roll_s=0.2)
        wait_ready([daemon])
        ready = time.monotonic()
        for i in range(ctx.runs):
            time.sleep(max(0.0, ready + pre_roll_s + 1.0 - time.monotonic()))  # the ring is full
            ctx.log(f"preroll: trigger {i + 1}/{ctx.runs}")
            commit = trigger_and_commit(daemon, hold_s=0.3)
            ready = time.monotonic()
            commits.append(commit)
            dd_ms.append(1000 * dd_seconds(daemon.state_dir, commit.pre_roll_bytes))
            dd_1m_ms.append(1000 * dd_seconds(daemon.state_dir, commit.pre_roll_bytes, 1024 * 1024))
        daemon.stop()
    finally:
        farm.stop()
    return _section(commits, dd_ms, dd_1m_ms, pre_roll_s)


def _section(commits: list[Commit], dd_ms: list[float], dd_1m_ms: list[float], pre_roll_s: float) -> Section:
    size_mb = statistics.median(c.pre_roll_bytes for c in commits) / 1e6
    section = Section(
        "preroll",
        "Trigger → pre-roll durable on disk",
        f"A room with an HTTP camera (1280×720@15, ~60 KB frames) and the tone, {pre_roll_s:g} s pre-roll "
        f"({size_mb:.1f} MB of Matroska), triggered through the real client once its ring is full. "
        "Durable: the time from sending the trigger until the incident file's size covers every 64 KiB "
        "chunk that holds the pre-roll (the writer fsyncs each chunk before it writes the next; the end "
        "of the pre-roll is found afterwards by decrypting and demuxing; size polled every 2 ms). "
        "Baseline: `dd if=/dev/zero bs=64K oflag=dsync` writing the same number of bytes into the same "
        "directory, right after each trigger.",
    )
    durable = [c.durable_ms or float("nan") for c in commits]
    share = [c.video_frames / (c.delivered_s * FPS) for c in commits]
    big = "`dd bs=1M oflag=dsync`, same bytes (fewer, larger syncs)"
    section.add(Figure("dd", "`dd bs=64K oflag=dsync`, same bytes, same disk", "ms", dd_ms, digits=0))
    section.add(Figure("durable", "trigger sent → pre-roll durable", "ms", durable, "dd", digits=0))
    section.add(Figure("dd_1m", big, "ms", dd_1m_ms, digits=0))
    section.add(Figure("ack", "trigger sent → acknowledgement", "ms", [c.ack_ms for c in commits], digits=1))
    section.add(Figure("delivered", "pre-roll delivered", "s", [c.delivered_s for c in commits]))
    section.add(Figure("frames", "pre-roll frames / (delivered s × 15 fps)", "share", share, digits=3))
    rates = [c.mb_per_s for c in commits if c.mb_per_s]
    if rates:
        section.notes.append(f"pre-roll write rate: {statistics.median(rates):.1f} MB/s (median)")
    return section

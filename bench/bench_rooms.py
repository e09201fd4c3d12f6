"""Rooms per box: N daemons on N HTTP MJPEG cameras (720p15) + 48 kHz on one machine; the largest N at
which every room keeps every frame and answers triggers within 50 ms at p99."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import plots
from bench.commit import audit_entry
from bench.figures import Context, Figure, Section, Table
from bench.procfs import cpu_window, rss_bytes
from bench.rooms import FPS, CameraRooms
from recorder.packet import AUDIO_SAMPLE_RATE
from tests.support import RunningDaemon, wait_for_state

STEPS = (1, 2, 4, 8, 16, 32, 48, 64)
QUICK_STEPS = (1, 2)
P99_LIMIT_MS = 50.0
CPU_LIMIT = 1.0  # % of one core per room
RETRIGGERS = 4


@dataclass
class Step:
    rooms: int
    cpu_per_room: list[float]  # % of one core, each room
    farm_cpu: float
    ack_ms: list[float]
    frames_missing: list[int]  # each room: frames its pre-roll should hold (delivered s × fps) but lacks
    audio_missing_ms: list[float]
    rss_mb: list[float]

    @property
    def p99_ms(self) -> float:
        acks = sorted(self.ack_ms)
        return acks[min(len(acks) - 1, round(0.99 * (len(acks) - 1)))] if acks else float("nan")

    @property
    def complete(self) -> bool:
        """Every room's pre-roll holds every frame and every sample, but for where the window cuts:
        one frame, and two 20 ms audio blocks (one begins before the window, one is not yet due)."""
        return max(self.frames_missing) <= 1 and max(self.audio_missing_ms) <= 40.0

    @property
    def ok(self) -> bool:
        return self.complete and self.p99_ms <= P99_LIMIT_MS


def _alarm(daemon: RunningDaemon, quick: bool) -> tuple[list[float], int, float]:
    """Trigger one room (its pre-roll goes to disk), re-trigger it, clear it. Returns the ack
    latencies (ms), and the frames and the ms of audio its pre-roll lacks."""
    client = daemon.client(timeout_s=5.0, retries=1)
    acks = []
    try:
        client.status()  # connected: the CURVE handshake is not part of a press
        for i in range(1 + (1 if quick else RETRIGGERS)):
            sent = time.perf_counter()
            reply = client.trigger(reason="rooms benchmark")
            acks.append(1000 * (time.perf_counter() - sent))
            if i == 0:
                incident = str(reply["incident"])
            time.sleep(0.1)
        client.clear(reason="rooms benchmark")
        wait_for_state(client, "idle", timeout_s=60)
    finally:
        client.close()
    started = audit_entry(daemon.state_dir, "incident_started", incident)
    assert started is not None, f"no incident_started for {incident}"
    pre = started["data"]["pre_roll"]
    seconds = float(pre["delivered_s"])
    frames, samples = int(pre["video_frames"]), int(pre["audio_samples"])
    missing_samples = max(0.0, seconds * AUDIO_SAMPLE_RATE - samples)
    return acks, max(0, round(seconds * FPS) - frames), 1000 * missing_samples / AUDIO_SAMPLE_RATE


def _step(ctx: Context, rooms: CameraRooms, n: int, pre_roll_s: float, window_s: float) -> Step:
    rooms.add(n - len(rooms.daemons), pre_roll_s, post_roll_s=0.2)
    ctx.log(f"rooms: {n} rooms up; filling their rings ({pre_roll_s:g} s)")
    time.sleep(pre_roll_s + 1.0)
    pids = [d.process.pid for d in rooms.daemons]
    window = cpu_window([*pids, rooms.farm.process.pid], window_s)
    rss = [rss_bytes(pid) / 1e6 for pid in pids]
    ctx.log(f"rooms: {n} rooms, {statistics.mean(window.percent[p] for p in pids):.2f} % per room; alarms")
    acks: list[float] = []
    frames, audio = [], []
    for daemon in rooms.daemons:
        room_acks, frames_missing, audio_missing = _alarm(daemon, ctx.quick)
        acks += room_acks
        frames.append(frames_missing)
        audio.append(audio_missing)
    return Step(n, [window.percent[p] for p in pids], window.percent[rooms.farm.process.pid], acks, frames,
                audio, rss)  # fmt: skip


def _reader_cpu(rooms: CameraRooms, window_s: float) -> float:
    """Our camera source alone reading one of the farm's streams (no ring, no daemon): the cost of
    the camera's own bytes, which every room pays whatever the daemon does."""
    url = rooms.farm.url(rooms.ports[-1])
    reader = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_passthrough", "--seconds", str(window_s + 3), "--child",
         "passthrough", url], stdout=subprocess.PIPE,
    )  # fmt: skip
    time.sleep(1.0)
    percent = cpu_window([reader.pid], window_s).percent[reader.pid]
    reader.communicate(timeout=30)
    return percent


def measure(ctx: Context) -> Section:
    steps_n = QUICK_STEPS if ctx.quick else STEPS
    pre_roll_s, window_s = (1.5, 1.5) if ctx.quick else (30.0, 20.0)
    steps: list[Step] = []
    rooms = CameraRooms(ctx.work / "rooms", max(steps_n) + 1, ctx.work / "camera.mkv")
    try:
        reader = _reader_cpu(rooms, window_s)
        for n in steps_n:
            steps.append(_step(ctx, rooms, n, pre_roll_s, window_s))
            if not steps[-1].ok:
                ctx.log(
                    f"rooms: {n} rooms fail (complete {steps[-1].complete}, p99 {steps[-1].p99_ms:.1f} ms)"
                )
                break
    finally:
        sent = rooms.close()
    return _section(ctx, steps, reader, pre_roll_s, window_s, sent)


def _section(
    ctx: Context, steps: list[Step], reader: float, pre_roll_s: float, window_s: float, sent: dict[int, int]
) -> Section:
    passing = [s for s in steps if s.ok]
    best = passing[-1] if passing else steps[0]
    sizes = ", ".join(str(s.rooms) for s in steps)
    section = Section(
        "rooms",
        "Rooms per box",
        "N `recorder run` daemons on this machine, each reading its own HTTP MJPEG camera on 127.0.0.1 "
        "(1280×720@15, ~60 KB frames, all served by one asyncio process that is not counted) and "
        f"recording the 48 kHz test tone, pre-roll {pre_roll_s:g} s. For N = {sizes} (rooms are "
        f"added, never restarted): once every ring is full, each daemon's CPU over {window_s:g} s; then "
        "each room in turn is triggered (its pre-roll goes to disk), re-triggered and cleared. A step "
        "passes when every room's pre-roll held every frame and sample and the acknowledgements' p99 "
        f"is within {P99_LIMIT_MS:g} ms. One sweep, stopped at the first N that fails.",
    )
    largest = float(passing[-1].rooms if passing else 0)
    alone = "our camera source alone on one stream (the camera's own bytes)"
    per_room = [statistics.mean(best.cpu_per_room)]
    tried = f"largest N that passes (tried up to {steps[-1].rooms})"
    section.add(Figure("max_rooms", tried, "rooms", [largest], goal="value ≥ 64", digits=0))
    section.add(Figure("reader", alone, "% of a core", [reader]))
    section.add(Figure("per_room", f"per room at N = {best.rooms} (mean)", "% of a core", per_room, "reader",
                       f"value ≤ {CPU_LIMIT:g} %"))  # fmt: skip
    section.add(Figure("p99", f"trigger acknowledgement p99 at N = {best.rooms}", "ms", [best.p99_ms],
                       goal=f"value ≤ {P99_LIMIT_MS:g} ms", digits=1))  # fmt: skip
    section.tables.append(_table(steps))
    section.plots.append(_plot(ctx, steps))
    section.notes.append(f"frames the farm sent per camera: median {statistics.median(sent.values()):.0f}")
    section.notes.append(_ceiling(best))
    return section


def _plot(ctx: Context, steps: list[Step]) -> Path:
    cpu = {
        "mean": [statistics.mean(s.cpu_per_room) for s in steps],
        "max": [max(s.cpu_per_room) for s in steps],
    }
    missing = {"frames (worst room)": [float(max(s.frames_missing)) for s in steps]}
    return plots.curve(
        ctx.plots / "rooms.png",
        "Rooms per box (2 cores): cost per room, triggers, completeness",
        [float(s.rooms) for s in steps],
        [
            ("CPU per room, % of a core", cpu, CPU_LIMIT),
            ("trigger ack p99, ms", {"p99": [s.p99_ms for s in steps]}, P99_LIMIT_MS),
            ("frames missing from a pre-roll", missing, 1.0),
        ],
    )


def _ceiling(step: Step) -> str:
    """Where the box would run out, extrapolated from the largest passing step (not measured)."""
    cores = os.cpu_count() or 1
    per_room = statistics.mean(step.cpu_per_room) + step.farm_cpu / step.rooms
    memory_mb = _mem_total_mb()
    rss = statistics.mean(step.rss_mb)
    by_cpu, by_memory = 100 * cores / per_room, memory_mb / rss
    bound = "memory" if by_memory < by_cpu else "CPU"
    return (
        f"Extrapolated, not measured: at {per_room:.2f} % of a core per room (cameras included) the "
        f"{cores} cores would be spent at about {by_cpu:.0f} rooms, and at {rss:.0f} MB of RSS per room "
        f"the {memory_mb / 1000:.0f} GB of memory at about {by_memory:.0f}: {bound} bounds this box first."
    )


def _mem_total_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1000
    return float("nan")


def _table(steps: list[Step]) -> Table:
    rows = []
    for s in steps:
        rows.append([
            str(s.rooms),
            f"{statistics.mean(s.cpu_per_room):.2f} ({max(s.cpu_per_room):.2f})",
            f"{sum(s.cpu_per_room):.0f}",
            f"{s.farm_cpu:.1f}",
            f"{s.p99_ms:.1f}",
            f"{max(s.ack_ms):.1f}",
            f"{max(s.frames_missing)} / {max(s.audio_missing_ms):.0f}",
            f"{statistics.mean(s.rss_mb):.0f}",
            "yes" if s.ok else "**no**",
        ])  # fmt: skip
    return Table(
        "One row per N",
        ["rooms", "CPU per room, mean (max) %", "all rooms, %", "cameras, %", "ack p99 ms", "ack max ms",
         "missing from a pre-roll, worst room: frames / audio ms", "RSS per room MB", "passes"],
        rows,
    )  # fmt: skip

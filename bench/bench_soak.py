"""Soak: one room for a long time with an alarm every few minutes; RSS, file descriptors, CPU and ring
bytes over time (flat is the goal)."""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field

from bench import plots
from bench.bench_memory import ring_bytes
from bench.camera_farm import CameraFarm, make_clip
from bench.figures import Context, Figure, Section
from bench.procfs import cpu_seconds, open_fds, rss_bytes
from bench.rooms import FPS, camera_section, spawn, wait_ready
from recorder.demo import free_tcp_port
from tests.support import RunningDaemon, wait_for_state


@dataclass
class Samples:
    t_s: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    ring_mb: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # % of a core since the previous sample
    fds: list[float] = field(default_factory=list)
    alarms_s: list[float] = field(default_factory=list)


def _alarms(
    daemon: RunningDaemon, every_s: float, record_s: float, stop: threading.Event, out: Samples
) -> None:
    """Trigger, record `record_s`, clear; every `every_s` until `stop`."""
    started = time.monotonic()
    client = daemon.client(timeout_s=5.0, retries=3)
    try:
        client.status()  # the button's connection (one socket in the daemon) exists from the start
        while not stop.wait(every_s):
            out.alarms_s.append(time.monotonic() - started)
            client.trigger(reason="soak")
            if stop.wait(record_s):
                break
            client.clear(reason="soak")
            wait_for_state(client, "idle", timeout_s=60)
    finally:
        client.close()


def _sample(daemon: RunningDaemon, seconds: float, every_s: float, out: Samples) -> None:
    pid = daemon.process.pid
    started = time.monotonic()
    last_cpu, last_t = cpu_seconds(pid), started
    while (now := time.monotonic()) - started < seconds:
        time.sleep(max(0.0, last_t + every_s - now))
        now, cpu = time.monotonic(), cpu_seconds(pid)
        out.t_s.append(now - started)
        out.cpu.append(100 * (cpu - last_cpu) / (now - last_t))
        out.rss_mb.append(rss_bytes(pid) / 1e6)
        out.fds.append(float(open_fds(pid)))
        out.ring_mb.append(ring_bytes(daemon) / 1e6)
        last_cpu, last_t = cpu, now


def measure(ctx: Context) -> Section:
    seconds = ctx.soak_s
    quick = ctx.quick
    pre_roll_s, every_s, record_s, sample_s = (1.0, 2.0, 0.5, 1.0) if quick else (30.0, 180.0, 10.0, 10.0)
    port = free_tcp_port()
    farm = CameraFarm(make_clip(ctx.work / "camera.mkv"), [port], FPS)
    out = Samples()
    try:
        daemon = spawn(
            ctx.work / "soak", camera_section(farm.url(port)), pre_roll_s, post_roll_s=2.0, debug=True
        )
        wait_ready([daemon])
        time.sleep(pre_roll_s + 2.5)  # the ring is full and has been reported
        stop = threading.Event()
        presser = threading.Thread(target=_alarms, args=(daemon, every_s, record_s, stop, out))
        presser.start()
        ctx.log(f"soak: {seconds:g} s, an alarm every {every_s:g} s")
        try:
            _sample(daemon, seconds, sample_s, out)
        finally:
            stop.set()
            presser.join()
        daemon.stop()
    finally:
        farm.stop()
    return _section(ctx, out, seconds, pre_roll_s, every_s, record_s)


def _slope_per_hour(t_s: list[float], values: list[float], after_s: float) -> float:
    """Least-squares trend of the samples after `after_s` (0 if fewer than two)."""
    points = [(t, v) for t, v in zip(t_s, values, strict=True) if t > after_s]
    if len(points) < 2:
        return 0.0
    return statistics.linear_regression([t for t, _ in points], [v for _, v in points]).slope * 3600


def _section(
    ctx: Context, out: Samples, seconds: float, pre_roll_s: float, every_s: float, record_s: float
) -> Section:
    n = max(1, len(out.t_s) // 10)  # the first and the last tenth of the samples
    section = Section(
        "soak",
        f"Soak: one room for {seconds / 60:g} minutes",
        f"One room (HTTP camera 1280×720@15, tone, {pre_roll_s:g} s pre-roll) for {seconds:g} s, "
        f"triggered every {every_s:g} s, recording {record_s:g} s each time (then post-roll 2 s). "
        "Sampled every few seconds from /proc: VmRSS, open file descriptors, CPU since the previous "
        "sample; ring bytes from the daemon's `ring_occupancy` debug log. `bench/run --soak 3600` for "
        "an hour.",
    )
    section.add(Figure("rss_start", "VmRSS, first tenth of the soak", "MB", out.rss_mb[:n], digits=1))
    section.add(Figure("rss_end", "VmRSS, last tenth", "MB", out.rss_mb[-n:], "rss_start", "≈ 1×", digits=1))
    # The first incident allocates once (the muxer, libav's codecs, the writer thread): trend after it.
    settled_s = (out.alarms_s[0] if out.alarms_s else 0.0) + record_s + 2.0 + 10.0
    rss_slope = _slope_per_hour(out.t_s, out.rss_mb, settled_s)
    label = f"VmRSS trend after the first incident (from {settled_s:.0f} s, least squares)"
    section.add(Figure("rss_slope", label, "MB per hour", [rss_slope], goal="≈ 0", digits=1))
    section.add(Figure("fds_start", "open file descriptors, first tenth", "fds", out.fds[:n], digits=0))
    section.add(
        Figure(
            "fds_end", "open file descriptors, last tenth", "fds", out.fds[-n:], "fds_start", "1×", digits=0
        )
    )
    section.add(Figure("cpu", "CPU, every sample", "% of a core", out.cpu))
    section.add(Figure("ring", "ring bytes, every sample", "MB", out.ring_mb, digits=1))
    section.notes.append(
        f"{len(out.alarms_s)} alarms, {len(out.t_s)} samples. The button stays connected throughout (one "
        "socket); while an incident is open its file is one more descriptor."
    )
    section.plots.append(
        plots.time_series(
            ctx.plots / "soak.png",
            f"Soak: one room, {seconds:g} s, an alarm every {every_s:g} s",
            out.t_s,
            [
                ("MB", {"VmRSS": out.rss_mb, "ring bytes": out.ring_mb}),
                ("CPU, % of a core", {"CPU": out.cpu}),
                ("open fds", {"fds": out.fds}),
            ],
        )
    )
    return section

"""Idle buffering at 720p15 + 48 kHz: CPU vs imencode and ffmpeg, RSS vs ring bytes, trigger to disk."""

from __future__ import annotations

import argparse
import cProfile
import ctypes
import ctypes.util
import gc
import io
import json
import os
import platform
import pstats
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import numpy.typing as npt

from recorder.audit.verify import read_entries
from recorder.config import RecordingConfig
from recorder.demo import DemoRoom, set_up_room
from recorder.hygiene import wipe_freed_memory
from recorder.incident.age_keys import Identity
from recorder.incident.age_reader import decrypt
from recorder.incident.age_writer import CHUNK_SIZE, PAYLOAD_NONCE_SIZE, SEALED_CHUNK_SIZE
from recorder.packet import AUDIO_SAMPLE_BYTES, AUDIO_SAMPLE_RATE, Packet, StreamKind, samples_to_ns
from recorder.ring import EncryptedRing
from recorder.router import PacketRouter
from recorder.secure_memory import KeyVault
from recorder.sources.test_pattern import (
    TestPatternConfig,
    encode_jpeg,
    frame_offset_ns,
    frame_packet,
    render_frame,
)
from recorder.sources.test_tone import TestToneConfig, block_packet, render_block
from tests.support import RunningDaemon, start_daemon, wait_for_state

WIDTH, HEIGHT, FPS = 1280, 720, 15.0
PRE_ROLL_S = 30.0
JPEG_QUALITY = 80  # the daemon's default (VideoConfig.jpeg_quality)
FFMPEG_QSCALE = 5
POOL_FRAMES = 150  # distinct pre-rendered frames (10 s at 15 fps, ~415 MB), cycled
TICK_NS = 50_000_000  # the daemon's control loop calls router.tick() every POLL_MS = 50 ms
POST_ROLL_S = 2.0
POLL_S = 0.002
BLOCK_HEADER_SLACK = 16  # a demuxed packet's pos is its SimpleBlock's start, before a few header bytes
PACED_S = 15.0  # each of the two paced floors; both fit in the ring's fill time
T0_NS = 1_000_000_000
WALL0 = 1_800_000_000.0
VIDEO, AUDIO, TICK = 0, 1, 2
_M_PERTURB = -6
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_CLK_TCK = os.sysconf("SC_CLK_TCK")

Image = npt.NDArray[np.uint8]
Event = tuple[int, int, int, int]  # (delivered at ns, kind, index, pts ns)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def per_minute(cpu_s: float, media_s: float) -> float:
    return 60.0 * cpu_s / media_s


def set_perturb(on: bool) -> None:
    """glibc M_PERTURB as the daemon sets it (`wipe_freed_memory`), or off again."""
    if on:
        wipe_freed_memory()
    else:
        _libc.mallopt(_M_PERTURB, 0)


class MediaClock:
    """The `Clock` the ring and router read: set by the loop to each packet's delivery time."""

    def __init__(self) -> None:
        self.now_ns = T0_NS

    def monotonic_ns(self) -> int:
        return self.now_ns

    def wall_time(self) -> float:
        return WALL0 + (self.now_ns - T0_NS) / 1e9


# -- in-process measurements ----------------------------------------------------------------------


@dataclass
class Media:
    """What every in-process loop processes: `seconds` of video frames, audio blocks and ticks."""

    seconds: float
    pattern: TestPatternConfig
    tone: TestToneConfig
    pool: list[Image]
    pcm_pool: list[npt.NDArray[np.int16]]
    events: list[Event]

    @property
    def frames(self) -> int:
        return sum(1 for e in self.events if e[1] == VIDEO)

    @property
    def blocks(self) -> int:
        return sum(1 for e in self.events if e[1] == AUDIO)


def make_media(seconds: float) -> Media:
    pattern = TestPatternConfig(width=WIDTH, height=HEIGHT, fps=FPS, jpeg_quality=JPEG_QUALITY)
    tone = TestToneConfig()
    frames = int(seconds * FPS)
    pool = [render_frame(pattern, n, frame_offset_ns(n, FPS)) for n in range(min(frames, POOL_FRAMES))]
    blocks_per_s = AUDIO_SAMPLE_RATE // tone.block_samples  # the tone repeats exactly every second
    pcm_pool = [render_block(tone, k) for k in range(blocks_per_s)]
    events: list[Event] = []
    for n in range(frames):
        at = T0_NS + frame_offset_ns(n, FPS)
        events.append((at, VIDEO, n, at))
    for k in range(int(seconds * AUDIO_SAMPLE_RATE) // tone.block_samples):
        pts = T0_NS + samples_to_ns(k * tone.block_samples)
        events.append((T0_NS + samples_to_ns((k + 1) * tone.block_samples), AUDIO, k, pts))
    for t in range(T0_NS, T0_NS + int(seconds * 1e9), TICK_NS):
        events.append((t, TICK, 0, t))
    events.sort()
    return Media(seconds, pattern, tone, pool, pcm_pool, events)


@dataclass
class RingState:
    bytes: int
    packets: int
    live_keys: int
    evicted_packets: int


@dataclass
class PathRun:
    cpu_s: float
    jpeg_bytes: int = 0
    ring: RingState | None = None


def run_floor(media: Media) -> PathRun:
    """The floor: the same frames through `cv2.imencode` in a bare loop (pre-rendered, no render)."""
    pool, params = media.pool, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    size = 0
    start = time.process_time()
    for n in range(media.frames):
        _ok, buf = cv2.imencode(".jpg", pool[n % len(pool)], params)
        size += buf.size
    return PathRun(time.process_time() - start, jpeg_bytes=size)


def run_render(media: Media) -> PathRun:
    """Drawing the test pattern alone: the test source's cost, which a camera does not have."""
    start = time.process_time()
    for n in range(media.frames):
        render_frame(media.pattern, n, frame_offset_ns(n, FPS))
    return PathRun(time.process_time() - start)


def run_ours(media: Media, *, render: bool, perturb: bool) -> PathRun:
    """Our idle path: JPEG → Packet → PacketRouter.on_packet → EncryptedRing (seal, evict, rotate),
    with the tone blocks and the control loop's ticks, on a clock that follows media time.

    `render=False`: frames are the pre-rendered pool (as from a camera), PCM from a pre-rendered
    second of tone. `render=True`: exactly the test sources' code (`frame_packet`, `block_packet`).
    """
    recording = RecordingConfig.model_validate({})  # the defaults
    clock = MediaClock()
    ring = EncryptedRing(KeyVault(), PRE_ROLL_S, recording.max_ring_bytes, recording.key_rotation_s)
    router = PacketRouter(ring, clock, audio_in_pre_roll=True)
    pool, pcm_pool, pattern, tone = media.pool, media.pcm_pool, media.pattern, media.tone
    jpeg_bytes = 0
    set_perturb(perturb)
    start = time.process_time()
    for at_ns, kind, i, pts in media.events:
        clock.now_ns = at_ns
        wall = WALL0 + (pts - T0_NS) / 1e9
        if kind == VIDEO:
            if render:
                packet = frame_packet(pattern, i, T0_NS, pts, wall)
            else:
                jpeg = encode_jpeg(pool[i % len(pool)], JPEG_QUALITY)
                packet = Packet(StreamKind.VIDEO, pts, wall, i, jpeg, WIDTH, HEIGHT)
            jpeg_bytes += len(packet.payload)
            router.on_packet(packet)
        elif kind == AUDIO:
            if render:
                packet = block_packet(tone, i, T0_NS, wall)
            else:
                packet = Packet(StreamKind.AUDIO, pts, wall, i, pcm_pool[i % len(pcm_pool)].tobytes())
            router.on_packet(packet)
        else:
            router.tick()
    cpu = time.process_time() - start
    set_perturb(False)
    state = RingState(ring.size_bytes, len(ring), ring.live_keys(), ring.evicted_packets)
    router.shutdown()
    return PathRun(cpu, jpeg_bytes=jpeg_bytes, ring=state)


@dataclass
class FfmpegRun:
    child_cpu_s: float
    parent_cpu_s: float
    output_bytes: int | None
    command: list[str]


def ffmpeg_command() -> list[str]:
    return [
        "ffmpeg", "-hide_banner", "-nostats", "-f", "rawvideo", "-pix_fmt", "bgr24",
        "-s", f"{WIDTH}x{HEIGHT}", "-r", f"{FPS:g}", "-i", "-",
        "-c:v", "mjpeg", "-q:v", str(FFMPEG_QSCALE), "-f", "null", "-",
    ]  # fmt: skip


def run_ffmpeg(media: Media) -> FfmpegRun:
    """What a user would script: raw BGR frames piped to ffmpeg's MJPEG encoder (child CPU via rusage)."""
    command = ffmpeg_command()
    pool = media.pool
    with tempfile.TemporaryFile() as stderr:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.process_time()
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr)
        assert proc.stdin is not None
        try:
            for n in range(media.frames):
                proc.stdin.write(pool[n % len(pool)].data)
        finally:
            proc.stdin.close()
            proc.wait()
        parent = time.process_time() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        stderr.seek(0)
        text = stderr.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}):\n{text[-2000:]}")
    child = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    match = re.search(r"video:(\d+)kB", text)
    return FfmpegRun(child, parent, int(match.group(1)) * 1024 if match else None, command)


def run_paced(media: Media, seconds: float, *, render: bool) -> float:
    """The floor paced in real time (`time.sleep` until each frame is due), like a capture thread:
    caches go cold and every frame costs a wake-up. Returns CPU seconds per minute of media."""
    pool, params = media.pool, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    frames = int(seconds * FPS)
    gc.collect()
    start_wall, start = time.monotonic(), time.process_time()
    for n in range(frames):
        delay = start_wall + n / FPS - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        image = render_frame(media.pattern, n, frame_offset_ns(n, FPS)) if render else pool[n % len(pool)]
        cv2.imencode(".jpg", image, params)
    return per_minute(time.process_time() - start, frames / FPS)


@dataclass
class InProcess:
    media_s: float
    frames: int
    audio_blocks: int
    repeats: int
    pool_frames: int
    cpu_per_min: dict[str, float]  # medians, CPU seconds per minute of media
    cpu_per_min_all: dict[str, list[float]]
    jpeg_mean_bytes: float
    ffmpeg_mean_bytes: float | None
    ffmpeg_command: str
    ring: RingState | None
    ring_bytes_30s_estimate: int


def measure_in_process(media: Media, repeats: int) -> InProcess:
    seconds = media.seconds
    runs: dict[str, list[float]] = {}
    jpeg_bytes = ffmpeg_bytes = 0
    ffmpeg_ok = True
    ring: RingState | None = None
    command = ""
    # Interleaved repeats, so that drift in the machine's load hits every variant alike.
    for r in range(repeats):
        log(f"in-process round {r + 1}/{repeats} ({seconds:g} s of media per variant)")
        gc.collect()
        floor = run_floor(media)
        jpeg_bytes = floor.jpeg_bytes
        variants: dict[str, Callable[[], PathRun]] = {
            "floor": lambda floor=floor: floor,  # type: ignore[misc]
            "render": lambda: run_render(media),
            "ours": lambda: run_ours(media, render=False, perturb=True),
            "ours_no_perturb": lambda: run_ours(media, render=False, perturb=False),
            "daemon_path": lambda: run_ours(media, render=True, perturb=True),
        }
        for name, run in variants.items():
            gc.collect()
            result = run()
            runs.setdefault(name, []).append(per_minute(result.cpu_s, seconds))
            if name == "ours":
                ring = result.ring
        gc.collect()
        ff = run_ffmpeg(media)
        command = shlex.join(ff.command)
        runs.setdefault("ffmpeg_child", []).append(per_minute(ff.child_cpu_s, seconds))
        runs.setdefault("ffmpeg_parent", []).append(per_minute(ff.parent_cpu_s, seconds))
        if ff.output_bytes is None:
            ffmpeg_ok = False
        else:
            ffmpeg_bytes = ff.output_bytes
    medians = {name: statistics.median(values) for name, values in runs.items()}
    jpeg_mean = jpeg_bytes / media.frames
    audio_bps = AUDIO_SAMPLE_RATE * AUDIO_SAMPLE_BYTES
    tag = 16
    per_s = (jpeg_mean + tag) * FPS + audio_bps + tag * AUDIO_SAMPLE_RATE / media.tone.block_samples
    return InProcess(
        media_s=seconds,
        frames=media.frames,
        audio_blocks=media.blocks,
        repeats=repeats,
        pool_frames=len(media.pool),
        cpu_per_min=medians,
        cpu_per_min_all=runs,
        jpeg_mean_bytes=jpeg_mean,
        ffmpeg_mean_bytes=ffmpeg_bytes / media.frames if ffmpeg_ok else None,
        ffmpeg_command=command,
        ring=ring if seconds >= PRE_ROLL_S else None,
        ring_bytes_30s_estimate=round(per_s * PRE_ROLL_S),
    )


def profile_in_process(seconds: float, top: int) -> None:
    """cProfile of the two in-process paths, top functions by own time."""
    media = make_media(seconds)
    gc.collect()
    for label, render in (("pre-rendered frames (ours)", False), ("as the daemon runs it", True)):
        profiler = cProfile.Profile()
        profiler.enable()
        run_ours(media, render=render, perturb=True)
        profiler.disable()
        print(f"\n== cProfile, {seconds:g} s of media, {label}: top {top} by own time ==")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(top)


# -- the real daemon ------------------------------------------------------------------------------


def proc_cpu(pid: int) -> tuple[float, int]:
    """(user + system CPU seconds, minor page faults) of a whole process, from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK, int(fields[7])


def proc_threads(pid: int) -> dict[str, float]:
    """CPU seconds per thread ("comm/tid"; the main thread's tid is the pid)."""
    threads: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "stat").read_text()
        except OSError:
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        threads["main" if task.name == str(pid) else f"{comm}/{task.name}"] = (
            int(fields[11]) + int(fields[12])
        ) / _CLK_TCK
    return threads


def proc_memory(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM, VmLck, RssAnon, RssFile in bytes, from /proc/<pid>/status."""
    wanted = {"VmRSS", "VmHWM", "VmLck", "RssAnon", "RssFile", "Threads"}
    memory: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in wanted:
            number = int(value.split()[0])
            memory[key] = number if key == "Threads" else number * 1024
    return memory


def make_room(root: Path, pre_roll_s: float) -> DemoRoom:
    """A demo room (keys, enrolment, officer) with its config switched to 1280x720@15."""
    root.mkdir(parents=True)
    room = set_up_room(root, pre_roll_s=pre_roll_s, post_roll_s=POST_ROLL_S)
    text = room.config.read_text()
    text = re.sub(r"(?m)^width = \d+$", f"width = {WIDTH}", text)
    text = re.sub(r"(?m)^height = \d+$", f"height = {HEIGHT}", text)
    text = re.sub(r"(?m)^fps = [\d.]+$", f"fps = {FPS:g}", text)
    room.config.write_text(text)
    return room


def frames_skipped(daemon: RunningDaemon) -> int:
    skipped = 0
    for line in daemon.log_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") == "frames_skipped":
            skipped += int(entry.get("count", 0))
    return skipped


def audit_entry(state_dir: Path, event: str, incident: str) -> dict[str, Any] | None:
    for _number, entry, _raw in read_entries(state_dir / "audit.jsonl"):
        if entry and entry.get("event") == event and entry.get("data", {}).get("incident") == incident:
            return entry
    return None


class SizePoller(threading.Thread):
    """Samples (perf_counter, size) of the first new `*.age` file in a directory every POLL_S."""

    def __init__(self, directory: Path) -> None:
        super().__init__(name="size-poller", daemon=True)
        self._directory = directory
        self._known = {p.name for p in directory.glob("*.age")}
        self.stop = threading.Event()
        self.path: Path | None = None
        self.samples: list[tuple[float, int]] = []

    @property
    def latest(self) -> int:
        return self.samples[-1][1] if self.samples else 0

    def run(self) -> None:
        while not self.stop.is_set():
            now = time.perf_counter()
            if self.path is None:
                fresh = [p for p in self._directory.glob("*.age") if p.name not in self._known]
                self.path = fresh[0] if fresh else None
            if self.path is not None:
                self.samples.append((now, self.path.stat().st_size))
            time.sleep(POLL_S)


def age_header_bytes(path: Path) -> int:
    """Bytes before the first payload chunk: the header through its MAC line, then the nonce."""
    with path.open("rb") as f:
        head = f.read(64 * 1024)
    mark = head.index(b"\n---") + 1
    return head.index(b"\n", mark) + 1 + PAYLOAD_NONCE_SIZE


def pre_roll_end(plaintext: bytes, video_frames: int, audio_samples: int) -> int:
    """Offset in the Matroska stream just past the last pre-roll packet (the first `video_frames`
    video packets and the audio packets that hold the first `audio_samples` samples)."""
    end = 0
    video_left, audio_left = video_frames, audio_samples
    with av.open(io.BytesIO(plaintext), mode="r", format="matroska") as container:
        for packet in container.demux():
            if packet.size == 0 or packet.pos is None:
                continue
            if packet.stream.type == "video" and video_left > 0:
                video_left -= 1
            elif packet.stream.type == "audio" and audio_left > 0:
                audio_left -= packet.size // AUDIO_SAMPLE_BYTES
            else:
                if video_left <= 0 and audio_left <= 0:
                    break
                continue
            end = max(end, packet.pos + packet.size + BLOCK_HEADER_SLACK)
    return end


@dataclass
class TriggerRun:
    incident: str
    ack_ms: float
    delivered_s: float
    video_frames: int
    audio_samples: int
    pre_roll_bytes: int  # Matroska plaintext up to the end of the pre-roll
    durable_ms: float | None  # trigger sent → every chunk holding the pre-roll is on disk
    mb_per_s: float | None
    poll_samples: int


def trigger_once(daemon: RunningDaemon, jpeg_mean: float) -> TriggerRun:
    state_dir = daemon.state_dir
    client = daemon.client(timeout_s=5.0, retries=1)
    try:
        client.status()  # a connected button: the CURVE handshake is not part of the press
        poller = SizePoller(state_dir)
        poller.start()
        sent = time.perf_counter()
        reply = client.trigger(reason="benchmark")
        ack_ms = 1000 * (time.perf_counter() - sent)
        incident = str(reply["incident"])
        started = audit_entry(state_dir, "incident_started", incident)
        assert started is not None, "no incident_started entry after the acknowledgement"
        pre = started["data"]["pre_roll"]
        estimate = (pre["video_frames"] * jpeg_mean + pre["audio_samples"] * AUDIO_SAMPLE_BYTES) * 1.1
        deadline = sent + 60
        while poller.latest < estimate + 2 * SEALED_CHUNK_SIZE and time.perf_counter() < deadline:
            time.sleep(0.05)
        poller.stop.set()
        poller.join()
        client.clear(reason="benchmark done")
        wait_for_state(client, "idle", timeout_s=POST_ROLL_S + 30)
    finally:
        client.close()
    deadline = time.monotonic() + 60
    while audit_entry(state_dir, "incident_closed", incident) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    path = state_dir / f"{incident}.age"
    result = decrypt(path, [Identity.load(daemon.room.officer_identity)])
    assert result.plaintext is not None
    end = pre_roll_end(result.plaintext, pre["video_frames"], pre["audio_samples"])
    needed = age_header_bytes(path) + ((end - 1) // CHUNK_SIZE + 1) * SEALED_CHUNK_SIZE
    durable = next((t - sent for t, size in poller.samples if size >= needed), None)
    return TriggerRun(
        incident=incident,
        ack_ms=ack_ms,
        delivered_s=float(pre["delivered_s"]),
        video_frames=int(pre["video_frames"]),
        audio_samples=int(pre["audio_samples"]),
        pre_roll_bytes=end,
        durable_ms=None if durable is None else 1000 * durable,
        mb_per_s=None if not durable else end / 1e6 / durable,
        poll_samples=len(poller.samples),
    )


@dataclass
class DaemonRun:
    window_s: float
    cpu_s: float
    cpu_per_min: float
    minor_faults_per_s: float
    frames_skipped: int
    threads_cpu_s: dict[str, float]
    memory_at_ready: dict[str, int]
    memory_full: dict[str, int]
    privacy: dict[str, Any] = field(default_factory=dict)


@dataclass
class RealDaemons:
    pre_roll_s: float
    ring: DaemonRun
    baseline: DaemonRun  # same daemon with pre_roll_s = 0: no ring at all
    triggers: list[TriggerRun]
    memory_after_triggers: dict[str, int]
    paced_cpu_per_min: dict[str, float]  # the floor paced in real time, measured while the ring fills


def _thread_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    delta = {name: round(after[name] - before.get(name, 0.0), 2) for name in after}
    return dict(sorted(delta.items(), key=lambda item: -item[1]))


def measure_daemons(root: Path, seconds: float, triggers: int, media: Media, jpeg_mean: float) -> RealDaemons:
    """Two real daemons side by side (pre-roll 30 s and 0 s), idle for `seconds` once the ring is
    full; then triggers of the 30 s one through the real client. While the ring fills, the floor
    runs paced in real time in this process (a light load next to two light daemons on 2+ CPUs)."""
    running: list[RunningDaemon] = []
    try:
        log(f"starting two daemons at {WIDTH}x{HEIGHT}@{FPS:g}: pre_roll_s = {PRE_ROLL_S:g} and 0")
        ring = start_daemon(make_room(root / "ring", PRE_ROLL_S))
        running.append(ring)
        base = start_daemon(make_room(root / "baseline", 0.0))
        running.append(base)
        ready = time.monotonic()
        pids = {"ring": ring.process.pid, "base": base.process.pid}
        at_ready = {name: proc_memory(pid) for name, pid in pids.items()}
        client = ring.client(timeout_s=2.0, retries=3)
        try:
            privacy = dict(client.status().get("privacy") or {})
        finally:
            client.close()
        fill_s = PRE_ROLL_S + 2.0
        log(f"filling the {PRE_ROLL_S:g} s ring ({fill_s:g} s); meanwhile the floor paced in real time")
        paced = {
            "floor_paced": run_paced(media, PACED_S, render=False),
            "floor_render_paced": run_paced(media, PACED_S, render=True),
        }
        time.sleep(max(0.0, ready + fill_s - time.monotonic()))
        cpu0 = {name: proc_cpu(pid) for name, pid in pids.items()}
        threads0 = {name: proc_threads(pid) for name, pid in pids.items()}
        start = time.monotonic()
        log(f"measuring {seconds:g} s of idle buffering (CPU from /proc/<pid>/stat)")
        time.sleep(seconds)
        cpu1 = {name: proc_cpu(pid) for name, pid in pids.items()}
        threads1 = {name: proc_threads(pid) for name, pid in pids.items()}
        window = time.monotonic() - start
        full = {name: proc_memory(pid) for name, pid in pids.items()}
        runs = {}
        for name, daemon in (("ring", ring), ("base", base)):
            cpu = cpu1[name][0] - cpu0[name][0]
            runs[name] = DaemonRun(
                window_s=round(window, 3),
                cpu_s=round(cpu, 2),
                cpu_per_min=per_minute(cpu, window),
                minor_faults_per_s=(cpu1[name][1] - cpu0[name][1]) / window,
                frames_skipped=frames_skipped(daemon),
                threads_cpu_s=_thread_delta(threads0[name], threads1[name]),
                memory_at_ready=at_ready[name],
                memory_full=full[name],
                privacy=privacy if name == "ring" else {},
            )
        base.stop()
        results: list[TriggerRun] = []
        for i in range(triggers):
            if i:
                log(f"refilling the ring: {PRE_ROLL_S + 1:g} s")
                time.sleep(PRE_ROLL_S + 1.0)
            log(f"trigger {i + 1}/{triggers}")
            results.append(trigger_once(ring, jpeg_mean))
        after = proc_memory(ring.process.pid)
        return RealDaemons(PRE_ROLL_S, runs["ring"], runs["base"], results, after, paced)
    finally:
        for daemon in running:
            daemon.stop()


# -- report ---------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    return {
        "cpu": f"{model}, {os.cpu_count()} CPUs",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "opencv": cv2.__version__,
        "pyav": av.__version__,
        "ffmpeg": ffmpeg.split()[2] if len(ffmpeg.split()) > 2 else "?",
    }


def command_line() -> str:
    exe = sys.executable
    if exe.startswith(os.getcwd() + os.sep):
        exe = os.path.relpath(exe)
    return shlex.join([exe, "-m", "bench.bench_buffering", *sys.argv[1:]])


def mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def _rows(rows: list[tuple[str, ...]]) -> Iterator[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)]
        yield "  " + "  ".join(cells).rstrip()


def report(result: dict[str, Any]) -> str:
    ip: InProcess = result["in_process"]
    rd: RealDaemons | None = result["daemons"]
    c = ip.cpu_per_min
    floor = c["floor"]
    floor_render = floor + c["render"]
    ffmpeg_total = c["ffmpeg_child"] + c["ffmpeg_parent"]
    out = [
        f"room-recorder buffering benchmark: {WIDTH}x{HEIGHT}@{FPS:g} JPEG q{JPEG_QUALITY} "
        f"+ {AUDIO_SAMPLE_RATE // 1000} kHz mono s16, pre-roll {PRE_ROLL_S:g} s",
        f"command: {result['command']}",
        "machine: " + "; ".join(f"{k} {v}" for k, v in result["machine"].items()),
        "load average (1/5/15 min) at start {} and end {}; other processes share these CPUs".format(
            *("/".join(f"{x:.2f}" for x in result["load_average"][key]) for key in ("start", "end"))
        ),
        "",
        "1. CPU seconds per minute of buffering (lower is better)",
        f"   in-process: {ip.media_s:g} s of media ({ip.frames} frames, {ip.audio_blocks} audio blocks, "
        f"ticks every {TICK_NS // 1_000_000} ms) as fast as possible, median of {ip.repeats} "
        "interleaved rounds;",
        f"   the floor, ours and ffmpeg all take the same {ip.pool_frames} pre-rendered test-pattern frames "
        "(cycled); rendering is measured apart.",
    ]
    rows: list[tuple[str, ...]] = [("path", "CPU s/min", "x floor", "")]
    rows += [
        ("(a) floor: cv2.imencode q80, bare loop", f"{floor:.2f}", "1.00", ""),
        (
            "ours: imencode → on_packet → ring, + audio (M_PERTURB on, as the daemon)",
            f"{c['ours']:.2f}",
            f"{c['ours'] / floor:.2f}",
            "goal ≤ 1.30",
        ),
        ("ours with M_PERTURB off", f"{c['ours_no_perturb']:.2f}", f"{c['ours_no_perturb'] / floor:.2f}", ""),
        (
            f"(b) ffmpeg mjpeg -q:v {FFMPEG_QSCALE}: child CPU",
            f"{c['ffmpeg_child']:.2f}",
            f"{c['ffmpeg_child'] / floor:.2f}",
            "",
        ),
        (
            "(b) ffmpeg + piping the raw frames to it",
            f"{ffmpeg_total:.2f}",
            f"{ffmpeg_total / floor:.2f}",
            "",
        ),
        ("test-pattern rendering alone (a camera has no such cost)", f"{c['render']:.2f}", "", ""),
        ("floor + rendering", f"{floor_render:.2f}", f"{floor_render / floor:.2f}", ""),
        (
            "daemon path in-process: render + encode + tone + ring",
            f"{c['daemon_path']:.2f}",
            f"{c['daemon_path'] / floor:.2f}",
            f"{c['daemon_path'] / floor_render:.2f} x (floor + rendering)",
        ),
    ]
    if rd is not None:
        r, b = rd.ring, rd.baseline
        fp, frp = rd.paced_cpu_per_min["floor_paced"], rd.paced_cpu_per_min["floor_render_paced"]
        rows += [
            (
                f"floor paced at {FPS:g} fps in real time ({PACED_S:g} s)",
                f"{fp:.2f}",
                f"{fp / floor:.2f}",
                "",
            ),
            ("floor + rendering, paced in real time", f"{frp:.2f}", f"{frp / floor:.2f}", ""),
            (
                f"real daemon, pre_roll {rd.pre_roll_s:g} s, {r.window_s:.0f} s wall (/proc/<pid>/stat)",
                f"{r.cpu_per_min:.2f}",
                f"{r.cpu_per_min / floor:.2f}",
                f"{r.cpu_per_min / frp:.2f} x (floor + rendering, paced)",
            ),
            (
                "real daemon, pre_roll 0 s (no ring), same window",
                f"{b.cpu_per_min:.2f}",
                f"{b.cpu_per_min / floor:.2f}",
                f"{b.cpu_per_min / frp:.2f} x (floor + rendering, paced)",
            ),
            ("  the ring's share (30 s - 0 s daemon)", f"{r.cpu_per_min - b.cpu_per_min:+.2f}", "", ""),
        ]
    out += list(_rows(rows))
    ff = f"{ip.ffmpeg_mean_bytes / 1e3:.1f} kB" if ip.ffmpeg_mean_bytes else "?"
    out.append(
        f"   mean frame: imencode q{JPEG_QUALITY} {ip.jpeg_mean_bytes / 1e3:.1f} kB, "
        f"ffmpeg -q:v {FFMPEG_QSCALE} {ff}; ffmpeg: {ip.ffmpeg_command}"
    )
    if rd is not None:
        out.append(
            f"   real daemons: frames skipped {rd.ring.frames_skipped} (30 s) / {rd.baseline.frames_skipped} "
            f"(0 s); minor faults/s {rd.ring.minor_faults_per_s:.0f} / {rd.baseline.minor_faults_per_s:.0f}; "
            f"hardening {rd.ring.privacy}"
        )
        top = list(rd.ring.threads_cpu_s.items())[:4]
        out.append(
            "   30 s daemon's busiest threads (CPU s in the window): "
            + ", ".join(f"{name} {cpu:.2f}" for name, cpu in top)
        )
    out += ["", f"2. Memory at {PRE_ROLL_S:g} s pre-roll"]
    ring_bytes = ip.ring.bytes if ip.ring else ip.ring_bytes_30s_estimate
    rows = [("", "value", "")]
    if ip.ring:
        rows.append(
            (
                "ring bytes (in-process ring, full: sum of ciphertext)",
                mb(ip.ring.bytes),
                f"{ip.ring.packets} packets, {ip.ring.live_keys} live keys",
            )
        )
    rows.append(
        (
            "ring bytes from sizes: 30 s x (15 x JPEG + 96 kB/s audio + tags)",
            mb(ip.ring_bytes_30s_estimate),
            "",
        )
    )
    if rd is not None:
        r_mem, b_mem = rd.ring.memory_full, rd.baseline.memory_full
        extra = r_mem["VmRSS"] - b_mem["VmRSS"]
        rows += [
            (
                "VmRSS, daemon with pre_roll 30 s, ring full",
                mb(r_mem["VmRSS"]),
                f"VmLck {mb(r_mem.get('VmLck', 0))}",
            ),
            (
                "VmRSS, daemon with pre_roll 0 s (baseline)",
                mb(b_mem["VmRSS"]),
                f"VmLck {mb(b_mem.get('VmLck', 0))}",
            ),
            ("RSS - baseline", mb(extra), f"{extra / ring_bytes:.2f} x ring bytes"),
            (
                "RssAnon, 30 s / 0 s",
                f"{mb(r_mem.get('RssAnon', 0))} / {mb(b_mem.get('RssAnon', 0))}",
                f"threads {r_mem.get('Threads')} / {b_mem.get('Threads')}",
            ),
            (
                "VmRSS at start-up (ring empty), 30 s / 0 s",
                f"{mb(rd.ring.memory_at_ready['VmRSS'])} / {mb(rd.baseline.memory_at_ready['VmRSS'])}",
                "",
            ),
            ("VmRSS, 30 s daemon after the triggers", mb(rd.memory_after_triggers["VmRSS"]), ""),
        ]
    out += list(_rows(rows))
    if rd is not None and rd.triggers:
        out += ["", "3. Trigger → pre-roll durable on disk (real daemon, RoomClient, 30 s pre-roll)"]
        rows = [("#", "ack ms", "pre-roll s", "frames", "samples", "pre-roll MB", "durable ms", "MB/s")]
        for i, t in enumerate(rd.triggers, 1):
            rows.append(
                (
                    str(i),
                    f"{t.ack_ms:.1f}",
                    f"{t.delivered_s:.2f}",
                    str(t.video_frames),
                    str(t.audio_samples),
                    f"{t.pre_roll_bytes / 1e6:.2f}",
                    "?" if t.durable_ms is None else f"{t.durable_ms:.0f}",
                    "?" if t.mb_per_s is None else f"{t.mb_per_s:.1f}",
                )
            )
        durables = [t.durable_ms for t in rd.triggers if t.durable_ms is not None]
        rates = [t.mb_per_s for t in rd.triggers if t.mb_per_s is not None]
        rows.append(
            (
                "median",
                f"{statistics.median(t.ack_ms for t in rd.triggers):.1f}",
                "",
                "",
                "",
                "",
                f"{statistics.median(durables):.0f}" if durables else "?",
                f"{statistics.median(rates):.1f}" if rates else "?",
            )
        )
        out += list(_rows(rows))
        out.append(
            "   ack: trigger sent → reply (socket already connected). durable: trigger sent → the incident "
            f"file's size covers every\n   64 KiB chunk holding the pre-roll (exact end found by decrypting "
            f"and demuxing afterwards; size polled every {POLL_S * 1000:g} ms;\n   the chunk's fsync follows "
            "its write within the same call)."
        )
    out += ["", f"command: {result['command']}"]
    return "\n".join(out)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="media per in-process run and idle window"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved in-process rounds (median)")
    parser.add_argument("--triggers", type=int, default=3, help="triggers of the real daemon")
    parser.add_argument("--no-daemon", action="store_true", help="only the in-process measurements")
    parser.add_argument("--dir", type=Path, default=None, help="where the rooms live (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the rooms' directory")
    parser.add_argument(
        "--profile",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="only cProfile SECONDS of media, then exit",
    )
    args = parser.parse_args(argv)
    if args.profile:
        profile_in_process(args.profile, top=20)
        return 0
    if shutil.which("ffmpeg") is None:
        parser.error("ffmpeg is not installed")
    result: dict[str, Any] = {"command": command_line(), "machine": machine(), "load_start": os.getloadavg()}
    log(f"rendering {min(int(args.seconds * FPS), POOL_FRAMES)} distinct {WIDTH}x{HEIGHT} frames")
    media = make_media(args.seconds)
    result["in_process"] = measure_in_process(media, args.repeats)
    result["daemons"] = None
    if not args.no_daemon:
        root = Path(tempfile.mkdtemp(prefix="bench-buffering-", dir=args.dir))
        try:
            result["daemons"] = measure_daemons(
                root, args.seconds, args.triggers, media, result["in_process"].jpeg_mean_bytes
            )
        finally:
            if args.keep:
                log(f"rooms kept in {root}")
            else:
                shutil.rmtree(root, ignore_errors=True)
    result["load_average"] = {"start": result.pop("load_start"), "end": os.getloadavg()}
    if args.json:
        print(json.dumps({k: _jsonable(v) for k, v in result.items()}, indent=2))
    else:
        print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Buffering CPU at 720p15 + 48 kHz: our encode → encrypted ring path vs the bare encoder and ffmpeg."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import resource
import subprocess
import time
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from bench.figures import Context, Figure, Section
from recorder.config import RecordingConfig
from recorder.hygiene import wipe_freed_memory
from recorder.packet import AUDIO_SAMPLE_RATE, Packet, StreamKind, samples_to_ns
from recorder.ring import EncryptedRing
from recorder.router import PacketRouter
from recorder.secure_memory import KeyVault
from recorder.sources.test_pattern import TestPatternConfig, encode_jpeg, frame_offset_ns, render_frame
from recorder.sources.test_tone import TestToneConfig, render_block

WIDTH, HEIGHT, FPS, QUALITY = 1280, 720, 15.0, 80  # the daemon's defaults
FFMPEG_QSCALE = 5  # about the same size of JPEG as q80
POOL_FRAMES = 150
TICK_NS = 200_000_000  # the daemon's control loop ticks the router when idle (daemon.POLL_MS)
T0_NS = 1_000_000_000
VIDEO, AUDIO, TICK = 0, 1, 2
_M_PERTURB = -6

Image = npt.NDArray[np.uint8]


class _MediaClock:
    """The `Clock` the ring and router read: set to each packet's delivery time (no sleeping)."""

    def __init__(self) -> None:
        self.now_ns = T0_NS

    def monotonic_ns(self) -> int:
        return self.now_ns

    def wall_time(self) -> float:
        return self.now_ns / 1e9


@dataclass
class Media:
    """`seconds` of 720p15 test-pattern frames (pre-rendered, cycled), 20 ms tone blocks and ticks."""

    seconds: float
    pool: list[Image]
    pcm: list[bytes]
    events: list[tuple[int, int, int]]  # (delivered at ns, kind, index)

    @property
    def frames(self) -> int:
        return round(self.seconds * FPS)


def make_media(seconds: float) -> Media:
    pattern = TestPatternConfig(width=WIDTH, height=HEIGHT, fps=FPS, jpeg_quality=QUALITY)
    frames = round(seconds * FPS)
    pool = [render_frame(pattern, n, frame_offset_ns(n, FPS)) for n in range(min(frames, POOL_FRAMES))]
    tone = TestToneConfig()
    pcm = [render_block(tone, k).tobytes() for k in range(AUDIO_SAMPLE_RATE // tone.block_samples)]
    events = [(T0_NS + frame_offset_ns(n, FPS), VIDEO, n) for n in range(frames)]
    blocks = round(seconds * AUDIO_SAMPLE_RATE) // tone.block_samples
    events += [(T0_NS + samples_to_ns((k + 1) * tone.block_samples), AUDIO, k) for k in range(blocks)]
    events += [(t, TICK, 0) for t in range(T0_NS, T0_NS + round(seconds * 1e9), TICK_NS)]
    return Media(seconds, pool, pcm, sorted(events))


def floor_cpu(media: Media) -> float:
    """The floor: the same frames through `cv2.imencode` in a bare loop."""
    params = [cv2.IMWRITE_JPEG_QUALITY, QUALITY]
    start = time.process_time()
    for n in range(media.frames):
        cv2.imencode(".jpg", media.pool[n % len(media.pool)], params)
    return time.process_time() - start


def ours_cpu(media: Media) -> float:
    """Our idle path as the daemon runs it (glibc M_PERTURB on): JPEG → Packet → PacketRouter →
    EncryptedRing (seal, evict, rotate keys), with the tone's blocks and the loop's ticks."""
    recording = RecordingConfig.model_validate({})
    clock = _MediaClock()
    ring = EncryptedRing(KeyVault(), 30.0, recording.max_ring_bytes, recording.key_rotation_s)
    router = PacketRouter(ring, clock, audio_in_pre_roll=True)
    wipe_freed_memory()
    start = time.process_time()
    for at_ns, kind, i in media.events:
        clock.now_ns = at_ns
        if kind == VIDEO:
            jpeg = encode_jpeg(media.pool[i % len(media.pool)], QUALITY)
            router.on_packet(Packet(StreamKind.VIDEO, at_ns, at_ns / 1e9, i, jpeg, WIDTH, HEIGHT))
        elif kind == AUDIO:
            pts = at_ns - samples_to_ns(960)
            router.on_packet(Packet(StreamKind.AUDIO, pts, pts / 1e9, i, media.pcm[i % len(media.pcm)]))
        else:
            router.tick()
    cpu = time.process_time() - start
    ctypes.CDLL(ctypes.util.find_library("c")).mallopt(_M_PERTURB, 0)
    router.shutdown()
    return cpu


def ffmpeg_cpu(media: Media) -> float:
    """What a user would script: raw BGR frames piped to ffmpeg's MJPEG encoder (its CPU alone)."""
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "bgr24",
               "-s", f"{WIDTH}x{HEIGHT}", "-r", f"{FPS:g}", "-i", "-", "-c:v", "mjpeg",
               "-q:v", str(FFMPEG_QSCALE), "-f", "null", "-"]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(command, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for n in range(media.frames):
        proc.stdin.write(media.pool[n % len(media.pool)].data)
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg failed with {proc.returncode}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(ctx: Context) -> Section:
    seconds = 2.0 if ctx.quick else 30.0
    ctx.log(f"encode: rendering {min(round(seconds * FPS), POOL_FRAMES)} frames of {WIDTH}x{HEIGHT}")
    media = make_media(seconds)
    per_min = 60.0 / seconds
    runs: dict[str, list[float]] = {"floor": [], "ours": [], "ffmpeg": []}
    for i in range(ctx.runs):  # interleaved, so that drift in the load hits every variant alike
        ctx.log(f"encode: run {i + 1}/{ctx.runs}")
        for name, run in (("floor", floor_cpu), ("ours", ours_cpu), ("ffmpeg", ffmpeg_cpu)):
            gc.collect()
            runs[name].append(run(media) * per_min)
    section = Section(
        "encode",
        "Buffering CPU: encoder → encrypted ring, against the bare encoder and ffmpeg",
        f"{seconds:g} s of 1280×720@15 test-pattern frames ({len(media.pool)} pre-rendered, cycled) and the "
        "48 kHz tone, in-process and as fast as possible on a clock that follows media time. The floor "
        "encodes the same frames with `cv2.imencode` (q80) in a bare loop; ours adds packets, the "
        "router and the encrypted ring (sealing, eviction, key rotation) and the audio; ffmpeg's MJPEG "
        f"encoder (`-q:v {FFMPEG_QSCALE}`) takes the same raw frames on a pipe (its own CPU only). "
        "CPU seconds per minute of media.",
    )
    section.add(Figure("floor", "floor: `cv2.imencode` q80, bare loop", "CPU s/min", runs["floor"]))
    section.add(Figure("ours", "ours: encode → router → encrypted ring, + audio", "CPU s/min", runs["ours"],
                       "floor", "≤ 1.3×"))  # fmt: skip
    section.add(
        Figure("ffmpeg", "ffmpeg `-c:v mjpeg` on the same frames", "CPU s/min", runs["ffmpeg"], "floor")
    )
    return section

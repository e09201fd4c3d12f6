"""Test helpers: decrypt an incident with our reader and read its frame and audio-block numbers with PyAV."""

from __future__ import annotations

import datetime
import functools
import itertools
import json
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import av

from recorder.audit.verify import read_entries
from recorder.incident.age_keys import Identity
from recorder.incident.age_reader import DecryptResult, decrypt_to_file
from recorder.packet import AUDIO_SAMPLE_BYTES
from recorder.sources.test_pattern import decode_frame_number
from recorder.sources.test_tone import TestToneConfig, render_block

TONE = TestToneConfig()
BLOCK_SAMPLES = TONE.block_samples
BLOCK_MS = 20
BLOCKS_PER_CYCLE = 50  # 48000 / 960: block k has the same PCM as block k + 50


@dataclass(frozen=True)
class VideoFrame:
    """One video packet of the file: its time on the file's axis and the frame number drawn into it."""

    pts_ms: int
    number: int
    size: int


@dataclass(frozen=True)
class AudioBlock:
    """One audio packet: its time on the file's axis, and which block k of the test tone it is.

    `number` is k, from the block's time (block k starts at t0 + 20 k ms); `matches_tone` says whether
    its PCM is exactly block k of the tone (the tone repeats every 5 blocks, its marker every 50).
    """

    pts_ms: int
    samples: int
    size: int
    number: int
    matches_tone: bool


@dataclass
class IncidentMedia:
    """What an incident file holds, as read back from disk.

    `sources_t0_ms` is the sources' shared start on the file's time axis, estimated from the video
    as min(pts - n / fps): every frame is captured at or shortly after its schedule t0 + n / fps,
    so the minimum is t0 plus the smallest capture lateness (well under a millisecond when idle).
    Audio block numbers come from that estimate; each block's PCM is then compared with the tone's
    block of that number, so a block that is not where its time says shows as a mismatch.
    """

    decrypted: DecryptResult
    video: list[VideoFrame]
    audio: list[AudioBlock]
    undecodable_frames: int
    sources_t0_ms: float | None
    demux_error: str | None  # PyAV could not open or read the Matroska (packets up to there are listed)

    @property
    def frame_numbers(self) -> list[int]:
        return [frame.number for frame in self.video]

    @property
    def block_numbers(self) -> list[int]:
        return [block.number for block in self.audio]

    @property
    def first_pts_ms(self) -> int:
        return min([f.pts_ms for f in self.video] + [b.pts_ms for b in self.audio])

    @property
    def audio_samples(self) -> int:
        return sum(block.samples for block in self.audio)


@functools.cache
def _tone_blocks() -> tuple[bytes, ...]:
    return tuple(render_block(TONE, k).tobytes() for k in range(BLOCKS_PER_CYCLE))


def read_incident(path: Path, identities: Sequence[Identity], workdir: Path, fps: float) -> IncidentMedia:
    """Decrypt `path` into `workdir` with our age reader and list its packets in file order.

    Raises IncidentFormatError if the file does not decrypt (a truncated file does: see `decrypted`);
    a plaintext that PyAV cannot demux is reported in `demux_error`, not raised.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    mkv = workdir / (path.stem + ".mkv")
    decrypted = decrypt_to_file(path, mkv, identities)
    video: list[VideoFrame] = []
    raw_audio: list[tuple[int, bytes]] = []
    undecodable = 0
    demux_error = None
    try:
        with av.open(str(mkv)) as container:
            for packet in container.demux():
                if packet.size == 0 or packet.pts is None:
                    continue  # the demuxer's flush packets
                pts_ms = round(float(packet.pts * packet.time_base) * 1000)
                payload = bytes(packet)
                if packet.stream.type == "video":
                    try:
                        video.append(VideoFrame(pts_ms, decode_frame_number(payload), len(payload)))
                    except ValueError:
                        undecodable += 1
                elif packet.stream.type == "audio":
                    raw_audio.append((pts_ms, payload))
    except av.error.FFmpegError as error:
        demux_error = f"{type(error).__name__}: {error}"
    t0_ms = min((f.pts_ms - f.number * 1000 / fps for f in video), default=None)
    audio = [_audio_block(pts_ms, payload, t0_ms) for pts_ms, payload in raw_audio]
    return IncidentMedia(decrypted, video, audio, undecodable, t0_ms, demux_error)


def _audio_block(pts_ms: int, payload: bytes, t0_ms: float | None) -> AudioBlock:
    number = -1 if t0_ms is None else round((pts_ms - t0_ms) / BLOCK_MS)
    matches = number >= 0 and payload == _tone_blocks()[number % BLOCKS_PER_CYCLE]
    return AudioBlock(pts_ms, len(payload) // AUDIO_SAMPLE_BYTES, len(payload), number, matches)


def contiguity_problems(numbers: Sequence[int], skipped: Collection[int] = frozenset()) -> list[str]:
    """Every place where a sequence of frame or block numbers repeats, goes back or skips a number
    that is not in `skipped` (frames the test source itself skipped, as it logs). Empty if contiguous."""
    problems = []
    for a, b in itertools.pairwise(numbers):
        lost = [n for n in range(a + 1, b) if n not in skipped]
        if b <= a:
            problems.append(f"after {a} comes {b} (duplicate or going back)")
        elif lost:
            problems.append(f"after {a} comes {b} (lost {len(lost)}: {lost[0]}..{lost[-1]})")
    return problems


def skipped_frames(log_text: str) -> set[int]:
    """Frame numbers a daemon's test pattern skipped (too busy to render them), from its JSON log."""
    skipped: set[int] = set()
    for line in log_text.splitlines():
        if '"frames_skipped"' in line and line.startswith("{"):
            event = json.loads(line)
            skipped.update(range(int(event["frame"]) - int(event["count"]), int(event["frame"])))
    return skipped


def audio_problems(media: IncidentMedia) -> list[str]:
    """Audio blocks that are not whole test-tone blocks, not on the tone's timeline, or not contiguous.

    Block k starts at t0 + 20 k ms exactly, so pts - 20 k is the same for every block (up to the
    file's 1 ms rounding): a block that is displaced in time (or a lost one, re-timed) shows here.
    """
    problems = []
    for block in media.audio:
        if block.samples != BLOCK_SAMPLES or not block.matches_tone:
            problems.append(
                f"block {block.number} at {block.pts_ms} ms: {block.samples} samples, not the tone's"
            )
    if problems:
        return problems
    offsets = [block.pts_ms - BLOCK_MS * block.number for block in media.audio]
    if offsets and max(offsets) - min(offsets) > 1:
        problems.append(f"audio blocks are not on one 20 ms grid: offsets {min(offsets)}..{max(offsets)} ms")
    return problems + [f"audio: {p}" for p in contiguity_problems(media.block_numbers)]


@dataclass(frozen=True)
class StartWindow:
    """Bounds on a daemon's sources' shared start t0, on this process's monotonic clock: lo <= t0 <= hi."""

    lo_ns: int
    hi_ns: int


def _wall_minus_monotonic_ns() -> int:
    samples = []
    for _ in range(5):
        before = time.monotonic_ns()
        wall = time.time_ns()
        after = time.monotonic_ns()
        samples.append((after - before, wall - (before + after) // 2))
    return min(samples)[1]


def sources_start_window(audit_path: Path, log_path: Path, pid: int) -> StartWindow:
    """Where `Daemon.serve` of process `pid` took t0: after its `daemon_started` audit entry (whose time,
    truncated to the millisecond, is taken before the entry is written) and before its `daemon_ready`
    log line (the last one in `log_path`, so call this while that daemon is the newest). Both are wall
    clock; CLOCK_MONOTONIC is shared by all processes, so the wall-monotonic offset maps them here.

    Raises LookupError if either line is missing.
    """
    started = [
        entry
        for _, entry, _ in read_entries(audit_path)
        if entry and entry["event"] == "daemon_started" and entry["data"].get("pid") == pid
    ]
    ready = [
        json.loads(line)
        for line in log_path.read_text().splitlines()
        if line.startswith("{") and '"daemon_ready"' in line
    ]
    if not started or not ready:
        raise LookupError(f"no daemon_started entry for pid {pid} or no daemon_ready line")
    offset = _wall_minus_monotonic_ns()
    lo = _iso_ns(started[-1]["time"]) - offset
    hi = _iso_ns(ready[-1]["timestamp"]) - offset
    return StartWindow(lo, hi)


def _iso_ns(text: str) -> int:
    moment = datetime.datetime.fromisoformat(text)
    whole = int(moment.replace(microsecond=0).timestamp())
    return whole * 1_000_000_000 + moment.microsecond * 1000

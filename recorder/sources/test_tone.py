"""Built-in test audio source: a 440 Hz tone with a 1 kHz sync burst at the start of every second."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import structlog

from recorder.clock import NS_PER_S, Clock
from recorder.packet import AUDIO_SAMPLE_BYTES, AUDIO_SAMPLE_RATE, Packet, StreamKind, samples_to_ns
from recorder.sources.base import PacketSink, StatusSink
from recorder.sources.threaded import ThreadedSource

_MAX_WAIT_S = 0.1  # re-read the clock at least this often, so an injected clock is followed
_ONSET_THRESHOLD = 0.5  # share of a window's power at the marker frequency that counts as "burst"

Pcm = npt.NDArray[np.int16]
log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class TestToneConfig:
    """Tone, level, sync marker and block size; the sample rate is always `AUDIO_SAMPLE_RATE`."""

    __test__ = False  # not a pytest test class

    frequency_hz: float = 440.0
    level_dbfs: float = -12.0
    marker_hz: float = 1000.0
    marker_ms: int = 50
    block_samples: int = 960
    name: str = "test-tone"

    def __post_init__(self) -> None:
        if not 0 < self.block_samples <= AUDIO_SAMPLE_RATE:
            raise ValueError(f"block_samples out of range: {self.block_samples}")
        if not -96.0 <= self.level_dbfs <= 0.0:
            raise ValueError(f"level_dbfs out of range: {self.level_dbfs}")
        if not 0 <= self.marker_ms < 1000:
            raise ValueError(f"marker_ms out of range: {self.marker_ms}")


def render_block(config: TestToneConfig, k: int) -> Pcm:
    """Samples of block `k` (mono s16): the tone, or the marker tone in each second's first ms."""
    return _render(config, k * config.block_samples, config.block_samples)


def _render(config: TestToneConfig, first: int, count: int) -> Pcm:
    rate = AUDIO_SAMPLE_RATE
    idx = np.arange(first, first + count, dtype=np.int64)
    marker = (idx % rate) < config.marker_ms * rate // 1000
    freq = np.where(marker, config.marker_hz, config.frequency_hz)
    amplitude = 32767.0 * 10.0 ** (config.level_dbfs / 20.0)
    wave: npt.NDArray[np.float64] = amplitude * np.sin(2.0 * np.pi * freq * ((idx % rate) / rate))
    return np.round(wave).astype(np.int16)


@functools.lru_cache(maxsize=4)
def _two_seconds(config: TestToneConfig) -> bytes:
    """The signal depends on the sample index modulo the rate, so it repeats every second: two
    seconds of it, rendered once, hold every block, including those that wrap around a second."""
    return _render(config, 0, AUDIO_SAMPLE_RATE).tobytes() * 2


def block_packet(config: TestToneConfig, k: int, t0_ns: int, wall_time: float) -> Packet:
    """The packet for block `k` of a source started at `t0_ns`; `wall_time` is its first sample's.

    Cut from two pre-rendered seconds: the same samples as `render_block(config, k)` without
    computing 960 sines 50 times a second (half of an idle room's CPU before)."""
    pts = t0_ns + samples_to_ns(k * config.block_samples)
    start = (k * config.block_samples) % AUDIO_SAMPLE_RATE * AUDIO_SAMPLE_BYTES
    payload = _two_seconds(config)[start : start + config.block_samples * AUDIO_SAMPLE_BYTES]
    return Packet(StreamKind.AUDIO, pts, wall_time, k, payload)


def blocks_from(
    config: TestToneConfig, t0_ns: int, count: int, *, wall_t0: float = 0.0, first: int = 0
) -> Iterator[Packet]:
    """Blocks `first`..`first+count-1`, without a thread or a clock."""
    for k in range(first, first + count):
        yield block_packet(config, k, t0_ns, wall_t0 + samples_to_ns(k * config.block_samples) / NS_PER_S)


def _hop_sums(
    x: npt.NDArray[np.float64], rate: int, freq: float, hop: int
) -> tuple[npt.NDArray[np.complex128], npt.NDArray[np.float64]]:
    """Per-hop sums of the signal mixed down at `freq` and of its power (chunked to bound memory)."""
    usable = x.size - x.size % hop
    mixed_parts: list[npt.NDArray[np.complex128]] = []
    power_parts: list[npt.NDArray[np.float64]] = []
    chunk = hop * 4096
    for start in range(0, usable, chunk):
        seg = x[start : min(start + chunk, usable)]
        idx = np.arange(start, start + seg.size, dtype=np.float64)
        mixed = seg * np.exp(-2j * np.pi * freq * idx / rate)
        mixed_parts.append(mixed.reshape(-1, hop).sum(axis=1))
        power_parts.append((seg * seg).reshape(-1, hop).sum(axis=1))
    if not mixed_parts:
        return np.zeros(0, dtype=np.complex128), np.zeros(0, dtype=np.float64)
    return np.concatenate(mixed_parts), np.concatenate(power_parts)


def _window_sums(parts: npt.NDArray[np.generic], hops: int) -> npt.NDArray[np.generic]:
    cum = np.concatenate((np.zeros(1, dtype=parts.dtype), np.cumsum(parts)))
    return cum[hops:] - cum[:-hops]  # type: ignore[no-any-return]


def find_sync_onsets(
    pcm: npt.NDArray[np.generic],
    rate: int = AUDIO_SAMPLE_RATE,
    *,
    marker_hz: float = 1000.0,
    min_burst_s: float = 0.02,
) -> list[float]:
    """Onsets (seconds from the first sample) of marker-frequency bursts in mono PCM.

    Windows of 5 ms, advanced in 1 ms hops; a window is "in a burst" when at least half of its
    power is at `marker_hz` (a single-bin DFT, as Goertzel would give) and it is not silence.
    Bursts shorter than `min_burst_s` are ignored. Accuracy is about +-1 ms.
    """
    x = np.asarray(pcm).ravel().astype(np.float64)
    if np.issubdtype(np.asarray(pcm).dtype, np.integer):
        x /= 32768.0
    hop = max(1, rate // 1000)
    hops_per_window = 5
    n = hop * hops_per_window
    mixed, power = _hop_sums(x, rate, marker_hz, hop)
    if mixed.size < hops_per_window:
        return []
    energy = np.asarray(_window_sums(power, hops_per_window), dtype=np.float64)
    tone = np.abs(np.asarray(_window_sums(mixed, hops_per_window))) ** 2
    audible = energy > n * 1e-6  # quieter than -60 dBFS RMS is silence
    ratio = np.where(audible, 2.0 * tone / (n * np.maximum(energy, 1e-30)), 0.0)
    on = np.concatenate(([False], ratio > _ONSET_THRESHOLD, [False]))
    starts = np.flatnonzero(on[1:] & ~on[:-1])
    ends = np.flatnonzero(~on[1:] & on[:-1])
    # A window whose last share f of samples is marker has ratio ~ f^2: the threshold is reached
    # when the onset lies (1 - sqrt(threshold)) of a window after the window's start.
    lead = n * (1.0 - math.sqrt(_ONSET_THRESHOLD)) + hop / 2
    min_hops = max(1, round(min_burst_s * rate / hop) - hops_per_window)
    onsets = [
        0.0 if s == 0 else (s * hop + lead) / rate
        for s, e in zip(starts, ends, strict=True)
        if e - s >= min_hops
    ]
    return [float(t) for t in onsets]


class TestToneSource(ThreadedSource):
    """A `MediaSource` producing tone blocks paced by real time on its own thread.

    A block is emitted once its last sample is due (as a sound card delivers it); a late thread
    catches up block by block, so audio never skips. Threads: `start`/`stop` run on the owner's
    thread, blocks are made on the source's thread; they share only `_stop` (an Event).
    """

    __test__ = False  # not a pytest test class

    def __init__(self, config: TestToneConfig, clock: Clock, *, status: StatusSink | None = None) -> None:
        super().__init__(config.name, clock, status)
        self._config = config

    def _loop(self, sink: PacketSink, t0_ns: int) -> None:
        block = self._config.block_samples
        k = 0
        while not self._stop.is_set():
            now = self._clock.monotonic_ns()
            wait_ns = t0_ns + samples_to_ns((k + 1) * block) - now
            if wait_ns > 0:
                self._stop.wait(min(wait_ns / NS_PER_S, _MAX_WAIT_S))
                continue
            pts = t0_ns + samples_to_ns(k * block)
            sink(block_packet(self._config, k, t0_ns, self._clock.wall_time() - (now - pts) / NS_PER_S))
            k += 1

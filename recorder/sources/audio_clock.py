"""Audio timestamps: a microphone's blocks stamped on the daemon's monotonic clock.

Pure (no I/O, no threads): the microphone source feeds it the times PortAudio reports with each
block and gets back each block's capture time. Tested on its own with simulated stacks.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import structlog

from recorder.clock import NS_PER_S
from recorder.packet import samples_to_ns

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class Block:
    """One captured block, as the callback saw it. Times are ns; 0 means "the stack did not say"."""

    pcm: bytes
    frames: int
    arrival_ns: int  # daemon clock when the callback ran
    adc_ns: int = 0  # stream clock: capture time of the first sample (PortAudio inputBufferAdcTime)
    stream_now_ns: int = 0  # stream clock when the callback ran (PortAudio currentTime)
    overflow: bool = False  # PortAudio lost input just before this block
    dropped_frames: int = 0  # frames dropped on our full queue just before this block


class SlidingMin:
    """Minimum of the values pushed during the last `window_ns` (a monotonic deque, O(1) amortised)."""

    def __init__(self, window_ns: int) -> None:
        self._window_ns = window_ns
        self._items: deque[tuple[int, int]] = deque()

    def push(self, t_ns: int, value: int) -> int:
        while self._items and self._items[-1][1] >= value:
            self._items.pop()
        self._items.append((t_ns, value))
        while self._items[0][0] < t_ns - self._window_ns:
            self._items.popleft()
        return self._items[0][1]

    def clear(self) -> None:
        self._items.clear()

    @property
    def minimum(self) -> int | None:
        return self._items[0][1] if self._items else None


class AudioClock:
    """Stamps blocks on the daemon's clock: sample-counted (gapless, jitter-free) timestamps that are
    slowly steered towards an observed capture time, and re-anchored when they differ by > 50 ms.

    The causal bound: a block was captured no later than its sample position plus the smallest
    `arrival - end of block` of the last 5 s. In 'arrival' mode (and where the stack gives no ADC
    time) the observation is that bound. In 'adc' mode it is the block's ADC time moved onto the
    daemon's clock by the stream-clock offset (the smallest `arrival - stream_now` of the last 5 s:
    callback latency only ever adds to it, and PortAudio's clock may be CLOCK_REALTIME, which can
    step), but never later than the bound: an ADC time after the block could have arrived is wrong
    (PulseAudio's interpolated latency wanders by ~10 ms). Timestamps never go back.
    """

    WINDOW_NS = 5 * NS_PER_S
    RESYNC_NS = 50_000_000
    STEP_NS = 250_000_000  # a stream-clock offset change larger than this is a clock step
    SLEW = 1 / 64

    def __init__(self, use_adc: bool) -> None:
        self._use_adc = use_adc
        self._mode: str | None = None
        self._offsets = SlidingMin(self.WINDOW_NS)  # stream clock -> daemon clock
        self._lags = SlidingMin(self.WINDOW_NS)  # sample position -> arrival
        self._anchor_ns: float | None = None
        self._since_anchor = 0  # samples stamped since the anchor
        self._device_samples = 0  # samples seen (including dropped ones) since the stream opened
        self._last_pts: int | None = None
        self.resyncs = 0

    @property
    def mode(self) -> str | None:
        return self._mode

    def stamp(self, block: Block) -> int:
        """The capture time of the block's first sample on the daemon's clock."""
        if block.dropped_frames:
            self._device_samples += block.dropped_frames
            self._since_anchor += block.dropped_frames
        if block.overflow:  # an unknown number of samples is gone: start afresh from observations
            self._anchor_ns = None
            self._offsets.clear()
            self._lags.clear()
        observed = self._observe(block)
        predicted = self._predict()
        if predicted is None or abs(observed - predicted) > self.RESYNC_NS:
            if predicted is not None:
                self.resyncs += 1
                error_ms = round((observed - predicted) / 1e6, 2)
                log.info("audio_clock_resync", error_ms=error_ms, mode=self._mode)
            self._anchor_ns, self._since_anchor, predicted = float(observed), 0, float(observed)
        else:
            correction = (observed - predicted) * self.SLEW
            assert self._anchor_ns is not None
            self._anchor_ns += correction
            predicted += correction
        pts = round(predicted)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        self._last_pts = pts
        self._since_anchor += block.frames
        self._device_samples += block.frames
        return pts

    def _predict(self) -> float | None:
        if self._anchor_ns is None:
            return None
        return self._anchor_ns + samples_to_ns(self._since_anchor)

    def _observe(self, block: Block) -> int:
        mode = "adc" if self._use_adc and block.adc_ns > 0 and block.stream_now_ns > 0 else "arrival"
        if mode != self._mode:
            log.info("audio_timestamps_mode", mode=mode, adc_time_available=block.adc_ns > 0)
            self._mode = mode
            self._offsets.clear()
        start = samples_to_ns(self._device_samples)
        lag = block.arrival_ns - start - samples_to_ns(block.frames)
        bound = start + self._lags.push(block.arrival_ns, lag)
        if mode == "arrival":
            return bound
        offset = block.arrival_ns - block.stream_now_ns
        current = self._offsets.minimum
        if current is not None and abs(offset - current) > self.STEP_NS:
            log.info("audio_stream_clock_stepped", step_ms=round((offset - current) / 1e6, 1))
            self._offsets.clear()
        return min(block.adc_ns + self._offsets.push(block.arrival_ns, offset), bound)

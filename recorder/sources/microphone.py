"""Microphone source: a PortAudio input stream (sounddevice) stamped on the daemon's clock.

This is the one module that imports `sounddevice`, and only when a microphone is opened
(`SoundDeviceBackend`), because loading PortAudio makes ALSA's plugins create runtime files
(see docs/privacy.md). The PortAudio callback only copies each block into a bounded queue; the
source's thread turns blocks into packets. Timestamps: see `AudioClock`.
"""

from __future__ import annotations

import queue
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from recorder.clock import Clock
from recorder.config import AudioConfig, AudioTimestamps
from recorder.errors import DeviceError
from recorder.packet import AUDIO_SAMPLE_RATE, Packet, StreamKind
from recorder.sources.base import PacketSink, StatusSink
from recorder.sources.reconnect import Backoff, Health, SourceFault, SupervisedThread, supervise

NS_PER_S = 1_000_000_000
_POLL_S = 0.1

log = structlog.get_logger()

BlockCallback = Callable[[bytes, int, float, float, bool], None]
"""`(pcm, frames, adc_time_s, stream_now_s, input_overflow)`, called on PortAudio's thread."""


class InputStream(Protocol):
    @property
    def active(self) -> bool: ...

    def close(self) -> None: ...


class AudioBackend(Protocol):
    def open(self, device: str, blocksize: int, callback: BlockCallback) -> tuple[InputStream, str]:
        """Open and start a 48 kHz mono s16 input; returns it and a description. Raises SourceFault."""
        ...


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


def samples_to_ns(samples: int) -> int:
    return samples * NS_PER_S // AUDIO_SAMPLE_RATE


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


class SoundDeviceBackend:
    """Real microphones through sounddevice/PortAudio. Importing it loads PortAudio (and ALSA)."""

    def __init__(self) -> None:
        import sounddevice

        self._sd: Any = sounddevice

    def open(self, device: str, blocksize: int, callback: BlockCallback) -> tuple[InputStream, str]:
        sd = self._sd
        target: int | str | None = int(device) if device.strip().isdigit() else (device or None)

        def on_audio(indata: Any, frames: int, time_info: Any, status: Any) -> None:
            callback(
                indata.tobytes(),
                frames,
                time_info.inputBufferAdcTime,
                time_info.currentTime,
                bool(status.input_overflow),
            )

        stream = None
        try:
            # Re-scan devices on every attempt: PortAudio lists them once per initialisation, so a
            # replugged USB microphone or a restarted sound server is only found after re-initialising.
            sd._terminate()
            sd._initialize()
            stream = sd.InputStream(
                samplerate=AUDIO_SAMPLE_RATE,
                channels=1,
                dtype="int16",
                blocksize=blocksize,
                device=target,
                callback=on_audio,
            )
            stream.start()
            name = sd.query_devices(stream.device)["name"]
        except (sd.PortAudioError, ValueError) as error:
            if stream is not None:
                stream.close()
            raise SourceFault(f"cannot open microphone {device or '(default)'}: {error}") from None
        return stream, f"{name} (index {stream.device}, latency {stream.latency:.3f} s)"


class MicrophoneSource:
    """A `MediaSource` for one microphone, reconnecting with backoff when it fails.

    Threads: PortAudio's callback thread calls `_on_block` (writes `_queue`, `_pending_drop`,
    `overflows`, `blocks_dropped`); the source thread consumes the queue and opens/closes streams;
    the owner calls `start`/`stop`. The queue is the only hand-over; counters have one writer each.
    """

    def __init__(
        self,
        config: AudioConfig,
        clock: Clock,
        *,
        status: StatusSink | None = None,
        backend: AudioBackend | None = None,
        name: str = "microphone",
    ) -> None:
        self.name = name
        self.overflows = 0
        self.blocks_dropped = 0
        self.resyncs = 0
        self._config = config
        self._clock = clock
        self._backend = backend
        self._health = Health(name, status)
        self._backoff = Backoff(config.reconnect_initial_s, config.reconnect_max_s)
        self._thread = SupervisedThread(name)
        self._queue: queue.Queue[Block] = queue.Queue(maxsize=config.queue_blocks)
        self._pending_drop = 0
        self._seq = 0
        self._last_end_ns = 0  # end of the last packet sent, across reconnects
        self.stale_blocks = 0
        self._log = log.bind(source=name, device=config.device or "(default)")

    def start(self, sink: PacketSink, t0_ns: int | None = None) -> None:
        """Start capturing; the device is opened on the source's thread.

        `t0_ns` is ignored: packets carry their own capture times. Raises RuntimeError if started.
        """
        stop = self._thread.stop_event
        self._thread.start(
            lambda: supervise(self.name, stop, self._backoff, self._health, lambda: self._session(sink))
        )

    def stop(self) -> None:
        """Stop and join (within about 0.1 s plus the time PortAudio takes to close the stream)."""
        self._thread.stop()

    def _on_block(self, pcm: bytes, frames: int, adc_s: float, now_s: float, overflow: bool) -> None:
        arrival = self._clock.monotonic_ns()
        block = Block(
            pcm,
            frames,
            arrival,
            round(adc_s * NS_PER_S),
            round(now_s * NS_PER_S),
            overflow,
            self._pending_drop,
        )
        if overflow:
            self.overflows += 1
        try:
            self._queue.put_nowait(block)
            self._pending_drop = 0
        except queue.Full:
            self._pending_drop += frames
            self.blocks_dropped += 1

    def _session(self, sink: PacketSink) -> None:
        if self._backend is None:
            self._backend = SoundDeviceBackend()
        self._queue = queue.Queue(maxsize=self._config.queue_blocks)
        self._pending_drop = 0
        # Nothing can have been captured before the stream was opened, nor before the last block sent.
        resume_ns = max(self._clock.monotonic_ns(), self._last_end_ns)
        stream, description = self._backend.open(self._config.device, self._config.blocksize, self._on_block)
        try:
            self._consume(stream, description, sink, resume_ns)
        finally:
            stream.close()

    def _consume(self, stream: InputStream, description: str, sink: PacketSink, resume_ns: int) -> None:
        audio_clock = AudioClock(self._config.timestamps is AudioTimestamps.ADC)
        last_ns = self._clock.monotonic_ns()
        reported = (self.overflows, self.blocks_dropped)
        first = True
        while not self._thread.stop_event.is_set():
            try:
                block = self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                self._check_alive(stream, last_ns)
                continue
            if first:
                self._on_first_block(description)
                first = False
            last_ns = block.arrival_ns
            pts = self._after(resume_ns, audio_clock.stamp(block))
            if pts is None:
                continue
            wall = self._clock.wall_time() - (self._clock.monotonic_ns() - pts) / NS_PER_S
            sink(Packet(StreamKind.AUDIO, pts, wall, self._seq, block.pcm))
            self._seq += 1
            self._last_end_ns = pts + samples_to_ns(block.frames)
            self.resyncs = audio_clock.resyncs
            reported = self._report_losses(reported)

    def _after(self, resume_ns: int, pts: int) -> int | None:
        """None (dropped) for a block dated before `resume_ns`: before this stream was opened or before
        the end of the last block of the previous one. PulseAudio's sine source, for one, dates its
        first 2 s of samples before the stream existed. This keeps the track going forward across a
        reconnect; within one stream `AudioClock` keeps the order."""
        if pts < resume_ns:
            self.stale_blocks += 1
            if self.stale_blocks == 1 or self.stale_blocks % 100 == 0:
                self._log.info("audio_stale_blocks_dropped", count=self.stale_blocks)
            return None
        return pts

    def _on_first_block(self, description: str) -> None:
        self._backoff.reset()
        self._log.info(
            "microphone_opened",
            stream=description,
            blocksize=self._config.blocksize,
            timestamps=self._config.timestamps.value,
        )
        self._health.recovered(description)

    def _check_alive(self, stream: InputStream, last_ns: int) -> None:
        if not stream.active:
            raise SourceFault("audio stream stopped (device gone or sound server down)")
        silent_s = (self._clock.monotonic_ns() - last_ns) / NS_PER_S
        if silent_s > self._config.read_timeout_s:
            raise SourceFault(f"no audio for {silent_s:.1f} s")

    def _report_losses(self, reported: tuple[int, int]) -> tuple[int, int]:
        overflows, dropped = self.overflows, self.blocks_dropped
        if (overflows, dropped) != reported:
            self._log.warning("audio_input_lost", overflows=overflows, blocks_dropped=dropped)
        return overflows, dropped


def list_inputs() -> list[dict[str, Any]]:
    """Audio inputs as PortAudio sees them (index, name, host API, channels, default rate, default).

    Loads PortAudio. Raises DeviceError if it cannot be loaded.
    """
    try:
        import sounddevice as sd
    except OSError as error:
        raise DeviceError(f"PortAudio is not available: {error}") from None
    default_input = sd.default.device[0]
    apis = sd.query_hostapis()
    return [
        {
            "index": index,
            "name": info["name"],
            "host_api": apis[info["hostapi"]]["name"],
            "channels": info["max_input_channels"],
            "default_samplerate": info["default_samplerate"],
            "default": index == default_input,
        }
        for index, info in enumerate(sd.query_devices())
        if info["max_input_channels"] > 0
    ]

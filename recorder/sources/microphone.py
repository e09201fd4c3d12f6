"""Microphone source: a PortAudio input stream (sounddevice) stamped on the daemon's clock.

This is the one module that imports `sounddevice`, and only when a microphone is opened
(`SoundDeviceBackend`), because loading PortAudio makes ALSA's plugins create runtime files
(see docs/privacy.md). The PortAudio callback only copies each block into a bounded queue; the
source's thread turns blocks into packets stamped by `audio_clock.AudioClock`.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any, Protocol

import structlog

from recorder.clock import NS_PER_S, Clock
from recorder.config import AudioConfig, AudioTimestamps
from recorder.errors import DeviceError
from recorder.packet import AUDIO_SAMPLE_RATE, Packet, StreamKind, samples_to_ns
from recorder.sources.audio_clock import AudioClock, Block
from recorder.sources.base import PacketSink, StatusSink
from recorder.sources.losses import LossReport
from recorder.sources.reconnect import ReconnectingSource, SourceFault

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


class MicrophoneSource(ReconnectingSource):
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
        super().__init__(name, status, config.reconnect_initial_s, config.reconnect_max_s)
        self.overflows = 0
        self.blocks_dropped = 0
        self._config = config
        self._clock = clock
        self._backend = backend
        self._queue: queue.Queue[Block] = queue.Queue(maxsize=config.queue_blocks)
        self._pending_drop = 0
        self._seq = 0
        self._last_end_ns = 0  # end of the last packet sent, across reconnects
        self.stale_blocks = 0
        self._losses = LossReport(name, status)
        self._log = log.bind(source=name, device=config.device or "(default)")

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
            self._losses.flush(self._clock.monotonic_ns(), force=True)

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
        """Logs and reports (for the audit) what was lost since `reported`; returns the new counts."""
        overflows, dropped = self.overflows, self.blocks_dropped
        if (overflows, dropped) != reported:
            self._log.warning("audio_input_lost", overflows=overflows, blocks_dropped=dropped)
        now = self._clock.monotonic_ns()
        self._losses.add(dropped - reported[1], "audio blocks dropped: the capture thread fell behind", now)
        self._losses.add(
            overflows - reported[0], "audio input overflows: samples lost in the sound stack", now
        )
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

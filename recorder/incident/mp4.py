"""MP4 for sharing: decodes the incident's MJPEG and PCM and encodes H.264 (libx264) and AAC,
keeping every timestamp so that audio and video stay in sync."""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

import av
import numpy as np
import numpy.typing as npt
import structlog
from av.video.reformatter import ColorRange

MS = Fraction(1, 1000)
AAC_FRAME = 1024
TIMELINE_TOLERANCE_MS = 20
"""Audio timestamps that differ from the running sample count by less than this are taken as
jitter (Matroska's 1 ms rounding, a steered microphone clock) and the samples stay contiguous;
larger gaps (a dropout, a reconnect) become silence and larger overlaps are trimmed. A 1 ms
tolerance dropped and padded real samples at every jittery block and drifted by ~2 ms/s."""

X264_OPTIONS = {"crf": "23", "preset": "veryfast"}
"""The frames keep their size and timestamps; CRF 23 is x264's default quality. Speed and quality
against the JPEGs of this and other presets: docs/benchmarks.md, "Export"."""

if TYPE_CHECKING:
    AnyPacket = av.Packet[av.stream.Stream]  # generic only in the stubs
else:
    AnyPacket = av.Packet

log = structlog.get_logger()


Frame = av.VideoFrame | av.AudioFrame


class Mp4Encoder:
    """Decodes MJPEG/PCM packets and encodes them to H.264 (libx264) and AAC in an MP4 container.

    Two halves that may run on two threads: `prepare` (decoding, and converting video for H.264)
    touches only the input's decoders; `encode` and `finish` touch only the output's encoders.
    """

    def __init__(self, out: av.container.OutputContainer, streams: list[av.stream.Stream]) -> None:
        self._out = out
        video = next((s for s in streams if isinstance(s, av.video.stream.VideoStream)), None)
        audio = next((s for s in streams if isinstance(s, av.audio.stream.AudioStream)), None)
        self._video_index = video.index if video is not None else -1
        self._audio_index = audio.index if audio is not None else -1
        self._video = self._add_video(video) if video is not None else None
        self._audio = AudioTimeline(out, audio.codec_context.sample_rate) if audio is not None else None
        self._last_video_ms = -1

    def _add_video(self, src: av.video.stream.VideoStream) -> av.video.stream.VideoStream:
        rate = src.average_rate or Fraction(15)
        stream = self._out.add_stream("libx264", rate=rate, options=dict(X264_OPTIONS))
        stream.width = src.codec_context.width
        stream.height = src.codec_context.height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = MS
        # Frame threads: `encode` hands a frame over and returns while x264 codes earlier ones.
        stream.codec_context.thread_type = "FRAME"
        return stream

    def prepare(self, packet: AnyPacket) -> list[Frame]:
        """Decode one input packet; video comes back ready for H.264. Undecodable packets give []."""
        if packet.stream.index not in (self._video_index, self._audio_index):
            return []
        try:
            frames = packet.decode()
        except av.error.FFmpegError as exc:
            log.warning("packet_undecodable", stream=packet.stream.index, pts=packet.pts, error=str(exc))
            return []
        ready: list[Frame] = []
        for frame in frames:
            if isinstance(frame, av.VideoFrame) and self._video is not None:
                ready.extend(self._convert_video(frame))
            elif isinstance(frame, av.AudioFrame) and self._audio is not None:
                ready.append(frame)
        return ready

    def _convert_video(self, frame: av.VideoFrame) -> list[av.VideoFrame]:
        assert self._video is not None
        if frame.pts is None or frame.time_base is None:
            return []
        ms = max(round(frame.pts * frame.time_base * 1000), self._last_video_ms + 1)
        self._last_video_ms = ms
        # JPEG is full range; H.264 for sharing is limited ("TV") range, which players assume.
        full = frame.color_range == ColorRange.JPEG or frame.format.name.startswith("yuvj")
        out = frame.reformat(
            width=self._video.width,
            height=self._video.height,
            format="yuv420p",
            src_color_range=ColorRange.JPEG if full else ColorRange.MPEG,
            dst_color_range=ColorRange.MPEG,
        )
        out.pts = ms
        out.time_base = MS
        return [out]

    def encode(self, frames: list[Frame]) -> None:
        """Encode and mux what `prepare` returned."""
        for frame in frames:
            if isinstance(frame, av.VideoFrame):
                assert self._video is not None
                self._out.mux(self._video.encode(frame))
            elif self._audio is not None:
                self._audio.add(frame)

    def finish(self) -> None:
        """Flush both encoders."""
        if self._video is not None:
            self._out.mux(self._video.encode(None))
        if self._audio is not None:
            self._audio.finish()


class AudioTimeline:
    """Lays decoded audio on a sample clock and feeds AAC whole frames.

    Sample positions come from the input timestamps: a gap becomes silence, an overlap is dropped,
    and differences under TIMELINE_TOLERANCE_MS are ignored.
    """

    def __init__(self, out: av.container.OutputContainer, rate: int) -> None:
        self._out = out
        self._rate = rate
        self._stream = out.add_stream("aac", rate=rate, layout="mono")
        self._stream.bit_rate = 96_000
        self._resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        self._pending: npt.NDArray[np.float32] = np.zeros(0, dtype=np.float32)
        self._pending_start: int | None = None

    def add(self, frame: av.AudioFrame) -> None:
        if frame.pts is None or frame.time_base is None:
            return
        start = round(frame.pts * frame.time_base * self._rate)
        for converted in self._resampler.resample(frame):
            self._append(start, converted.to_ndarray()[0].astype(np.float32))
            start += converted.samples
        self._emit(final=False)

    def _append(self, start: int, samples: npt.NDArray[np.float32]) -> None:
        if self._pending_start is None:
            self._pending_start = start
        gap = start - (self._pending_start + self._pending.size)
        tolerance = self._rate * TIMELINE_TOLERANCE_MS // 1000
        if gap > tolerance:
            samples = np.concatenate((np.zeros(gap, dtype=np.float32), samples))
        elif gap < -tolerance:
            samples = samples[-gap:]
        self._pending = np.concatenate((self._pending, samples))

    def _emit(self, final: bool) -> None:
        while self._pending_start is not None and (
            self._pending.size >= AAC_FRAME or (final and self._pending.size)
        ):
            chunk = self._pending[:AAC_FRAME]
            self._pending = self._pending[AAC_FRAME:]
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="fltp", layout="mono")
            frame.sample_rate = self._rate
            frame.pts = self._pending_start
            frame.time_base = Fraction(1, self._rate)
            self._pending_start += chunk.size
            self._out.mux(self._stream.encode(frame))

    def finish(self) -> None:
        self._emit(final=True)
        self._out.mux(self._stream.encode(None))

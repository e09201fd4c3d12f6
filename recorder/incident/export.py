"""Export a decrypted incident (Matroska) to .mkv (stream copy) or .mp4 (H.264 + AAC), and probe media."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import av
import numpy as np
import numpy.typing as npt
import structlog
from av.video.reformatter import ColorRange

from recorder.errors import IncidentFormatError, StorageError
from recorder.incident.matroska import is_truncated

Source = Path | BinaryIO
ProgressCallback = Callable[[float], None]
PROGRESS_EVERY_S = 1.0
MS = Fraction(1, 1000)
AAC_FRAME = 1024

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """One stream of a media file: what it is and how much it holds."""

    index: int
    kind: str  # "video" | "audio" | other libav media types
    codec: str
    width: int = 0
    height: int = 0
    sample_rate: int = 0
    channels: int = 0
    packets: int = 0
    samples: int = 0  # audio samples (per channel); 0 for video
    start_s: float = 0.0
    end_s: float = 0.0


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What `probe` found in a media file."""

    format: str
    streams: tuple[StreamInfo, ...]
    duration_s: float
    video_frames: int
    audio_samples: int
    truncated: bool


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What `export` wrote."""

    path: Path
    video_frames: int
    audio_samples: int
    duration_s: float
    truncated: bool


@contextlib.contextmanager
def _open_input(src: Source) -> Iterator[tuple[av.container.InputContainer, bool]]:
    """Open `src` for demuxing; yields (container, truncated) and raises IncidentFormatError."""
    try:
        if isinstance(src, Path):
            with src.open("rb") as f:
                truncated = is_truncated(f)
            container = av.open(str(src), "r")
        else:
            truncated = bool(src.seekable() and is_truncated(src))
            container = av.open(src, "r")
    except (av.error.FFmpegError, OSError) as exc:
        raise IncidentFormatError(f"cannot read media: {exc}") from exc
    with container:
        yield container, truncated


if TYPE_CHECKING:
    AnyPacket = av.Packet[av.stream.Stream]  # generic only in the stubs
else:
    AnyPacket = av.Packet


def _media_streams(container: av.container.InputContainer) -> list[av.stream.Stream]:
    return [
        s
        for s in container.streams
        if isinstance(s, av.video.stream.VideoStream | av.audio.stream.AudioStream)
    ]


def _demux(container: av.container.InputContainer, streams: list[av.stream.Stream]) -> Iterator[AnyPacket]:
    """Packets with data, in file order; stops quietly (logged) where the input is damaged."""
    try:
        for packet in container.demux(streams):
            if packet.dts is not None:
                yield packet
    except av.error.FFmpegError as exc:
        log.warning("media_damaged", error=str(exc))
        raise _Damaged from exc


class _Damaged(Exception):
    """The demuxer gave up before the end of the input."""


def _packet_samples(packet: AnyPacket) -> int:
    ctx = packet.stream.codec_context
    if not isinstance(ctx, av.audio.codeccontext.AudioCodecContext):
        return 0
    if ctx.name.startswith("pcm_"):
        return packet.size // max(1, ctx.channels * ctx.format.bytes)
    return sum(f.samples for f in packet.decode() if isinstance(f, av.AudioFrame))


def probe(src: Source) -> MediaInfo:
    """Streams, codecs, duration, frame and sample counts; raises IncidentFormatError."""
    counts: dict[int, list[float]] = {}  # index -> [packets, samples, start, end]
    with _open_input(src) as (container, truncated):
        streams = _media_streams(container)
        try:
            for packet in _demux(container, streams):
                row = counts.setdefault(packet.stream.index, [0, 0, math.inf, -math.inf])
                row[0] += 1
                with contextlib.suppress(av.error.FFmpegError):
                    row[1] += _packet_samples(packet)
                if packet.pts is not None and not packet.is_discard:  # e.g. AAC priming
                    start = float(packet.pts * packet.time_base)
                    row[2] = min(row[2], start)
                    row[3] = max(row[3], start + float((packet.duration or 0) * packet.time_base))
        except _Damaged:
            truncated = True
        infos = tuple(_stream_info(s, counts.get(s.index)) for s in streams)
        name = container.format.name
    return _media_info(name, infos, truncated)


def _stream_info(stream: av.stream.Stream, row: list[float] | None) -> StreamInfo:
    packets, samples, start, end = row if row is not None and row[2] <= row[3] else [0, 0, 0.0, 0.0]
    ctx = stream.codec_context
    shape: dict[str, int] = {}
    if isinstance(ctx, av.video.codeccontext.VideoCodecContext):
        shape = {"width": ctx.width, "height": ctx.height}
    elif isinstance(ctx, av.audio.codeccontext.AudioCodecContext):
        shape = {"sample_rate": ctx.sample_rate, "channels": ctx.channels}
    return StreamInfo(
        index=stream.index,
        kind=stream.type,
        codec=ctx.name,
        packets=int(packets),
        samples=int(samples),
        start_s=start,
        end_s=end,
        **shape,
    )


def _media_info(name: str, streams: tuple[StreamInfo, ...], truncated: bool) -> MediaInfo:
    used = [s for s in streams if s.packets]
    duration = max((s.end_s for s in used), default=0.0) - min((s.start_s for s in used), default=0.0)
    return MediaInfo(
        format=name,
        streams=streams,
        duration_s=duration,
        video_frames=sum(s.packets for s in streams if s.kind == "video"),
        audio_samples=sum(s.samples for s in streams if s.kind == "audio"),
        truncated=truncated,
    )


class _Progress:
    """Calls `on_progress(seconds_done)` at most every PROGRESS_EVERY_S of media time."""

    def __init__(self, on_progress: ProgressCallback | None) -> None:
        self._callback = on_progress
        self._last = -PROGRESS_EVERY_S
        self.done_s = 0.0

    def update(self, packet: AnyPacket) -> None:
        if packet.pts is None:
            return
        self.done_s = max(self.done_s, float(packet.pts * packet.time_base))
        if self._callback is not None and self.done_s - self._last >= PROGRESS_EVERY_S:
            self._last = self.done_s
            self._callback(self.done_s)

    def finish(self) -> None:
        if self._callback is not None:
            self._callback(self.done_s)


def export(src: Source, dst: Path, *, on_progress: ProgressCallback | None = None) -> ExportResult:
    """Write `src` (Matroska) to `dst`; the format follows the suffix (.mkv copies, .mp4 re-encodes).

    The output appears atomically (written to `dst.part`, then renamed). A damaged or truncated
    input exports up to the damage and reports `truncated=True`. Raises ValueError for an unknown
    suffix, IncidentFormatError for an unreadable input, StorageError if `dst` cannot be written.
    """
    writers: dict[str, Callable[[av.container.InputContainer, Path, _Progress], bool]]
    writers = {".mkv": _remux, ".mp4": _transcode}
    suffix = dst.suffix.lower()
    if suffix not in writers:
        raise ValueError(f"cannot export to {dst.suffix!r}: use .mkv or .mp4")
    part = dst.with_name(dst.name + ".part")
    progress = _Progress(on_progress)
    try:
        with _open_input(src) as (container, truncated):
            damaged = writers[suffix](container, part, progress)
        os.replace(part, dst)
    except (OSError, av.error.FFmpegError) as exc:
        raise StorageError(f"cannot write {dst}: {exc}") from exc
    finally:
        part.unlink(missing_ok=True)
    progress.finish()
    info = probe(dst)
    truncated = truncated or damaged
    log.info("incident_exported", path=str(dst), truncated=truncated, duration_s=round(info.duration_s, 3))
    return ExportResult(dst, info.video_frames, info.audio_samples, info.duration_s, truncated)


def _remux(container: av.container.InputContainer, part: Path, progress: _Progress) -> bool:
    """Stream copy into a new Matroska file (JPEG and PCM bytes untouched); True if input damaged."""
    streams = _media_streams(container)
    with av.open(str(part), "w", format="matroska") as out:
        mapping = {s.index: out.add_stream_from_template(s) for s in streams}
        try:
            for packet in _demux(container, streams):
                progress.update(packet)
                packet.stream = mapping[packet.stream.index]
                out.mux_one(packet)
        except _Damaged:
            return True
    return False


def _transcode(container: av.container.InputContainer, part: Path, progress: _Progress) -> bool:
    """Re-encode to H.264 + AAC keeping every timestamp (so A/V sync is kept); True if damaged."""
    streams = _media_streams(container)
    damaged = False
    with av.open(str(part), "w", format="mp4", container_options={"movflags": "+faststart"}) as out:
        encoder = _Mp4Encoder(out, streams)
        try:
            for packet in _demux(container, streams):
                progress.update(packet)
                encoder.add(packet)
        except _Damaged:
            damaged = True
        encoder.finish()
    return damaged


class _Mp4Encoder:
    """Decodes MJPEG/PCM packets and encodes them to H.264 (libx264) and AAC in an MP4 container."""

    def __init__(self, out: av.container.OutputContainer, streams: list[av.stream.Stream]) -> None:
        self._out = out
        video = next((s for s in streams if isinstance(s, av.video.stream.VideoStream)), None)
        audio = next((s for s in streams if isinstance(s, av.audio.stream.AudioStream)), None)
        self._video_index = video.index if video is not None else -1
        self._audio_index = audio.index if audio is not None else -1
        self._video = self._add_video(video) if video is not None else None
        self._audio = _AudioTimeline(out, audio.codec_context.sample_rate) if audio is not None else None
        self._last_video_ms = -1

    def _add_video(self, src: av.video.stream.VideoStream) -> av.video.stream.VideoStream:
        rate = src.average_rate or Fraction(15)
        stream = self._out.add_stream("libx264", rate=rate, options={"crf": "23", "preset": "veryfast"})
        stream.width = src.codec_context.width
        stream.height = src.codec_context.height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = MS
        return stream

    def add(self, packet: AnyPacket) -> None:
        """Decode one input packet and encode what it holds; undecodable packets are skipped."""
        if packet.stream.index not in (self._video_index, self._audio_index):
            return
        try:
            frames = packet.decode()
        except av.error.FFmpegError as exc:
            log.warning("packet_undecodable", stream=packet.stream.index, pts=packet.pts, error=str(exc))
            return
        for frame in frames:
            if isinstance(frame, av.VideoFrame):
                self._add_video_frame(frame)
            elif isinstance(frame, av.AudioFrame) and self._audio is not None:
                self._audio.add(frame)

    def _add_video_frame(self, frame: av.VideoFrame) -> None:
        stream = self._video
        if stream is None or frame.pts is None or frame.time_base is None:
            return
        ms = max(round(frame.pts * frame.time_base * 1000), self._last_video_ms + 1)
        self._last_video_ms = ms
        # JPEG is full range; H.264 for sharing is limited ("TV") range, which players assume.
        full = frame.color_range == ColorRange.JPEG or frame.format.name.startswith("yuvj")
        out = frame.reformat(
            width=stream.width,
            height=stream.height,
            format="yuv420p",
            src_color_range=ColorRange.JPEG if full else ColorRange.MPEG,
            dst_color_range=ColorRange.MPEG,
        )
        out.pts = ms
        out.time_base = MS
        self._out.mux(stream.encode(out))

    def finish(self) -> None:
        """Flush both encoders."""
        if self._video is not None:
            self._out.mux(self._video.encode(None))
        if self._audio is not None:
            self._audio.finish()


class _AudioTimeline:
    """Lays decoded audio on a sample clock and feeds AAC whole frames.

    Sample positions come from the input timestamps: a gap becomes silence, an overlap is dropped,
    and differences under 1 ms (Matroska's timestamp resolution) are ignored.
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
        tolerance = self._rate // 1000
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

"""Export a decrypted incident (Matroska) to .mkv (stream copy) or .mp4 (H.264 + AAC), and probe media."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import structlog

from recorder.errors import IncidentFormatError, StorageError
from recorder.incident.matroska import is_truncated
from recorder.incident.mp4 import AnyPacket, Mp4Encoder

Source = Path | BinaryIO
ProgressCallback = Callable[[float], None]
PROGRESS_EVERY_S = 1.0

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
    suffix = dst.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise ValueError(f"cannot export to {dst.suffix!r}: use .mkv or .mp4")
    part = dst.with_name(dst.name + ".part")
    progress = _Progress(on_progress)
    try:
        with _open_input(src) as (container, truncated):
            damaged = _WRITERS[suffix](container, part, progress)
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
        encoder = Mp4Encoder(out, streams)
        try:
            for packet in _demux(container, streams):
                progress.update(packet)
                encoder.add(packet)
        except _Damaged:
            damaged = True
        encoder.finish()
    return damaged


_WRITERS: dict[str, Callable[[av.container.InputContainer, Path, _Progress], bool]] = {
    ".mkv": _remux,
    ".mp4": _transcode,
}
EXPORT_SUFFIXES = frozenset(_WRITERS)
"""What `export` can write: .mkv (stream copy) and .mp4 (H.264 + AAC)."""

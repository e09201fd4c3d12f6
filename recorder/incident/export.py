"""Export a decrypted incident (Matroska) to .mkv (stream copy) or .mp4 (H.264 + AAC), and probe media."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import structlog

from recorder.errors import IncidentFormatError, StorageError
from recorder.exit_codes import raise_if_stopped
from recorder.incident.matroska import is_truncated
from recorder.incident.mp4 import AnyPacket, Frame, Mp4Encoder
from recorder.incident.prefetch import Prefetch
from recorder.messages import _

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
        raise IncidentFormatError(_("cannot read media: {error}").format(error=exc)) from exc
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


class _Tally:
    """Counts packets and audio samples and spans the time of each stream, as packets go by.

    Timestamps stay integer ticks of each stream's time base until `info()`: per packet this is
    the only bookkeeping an export does besides copying or decoding it.
    """

    def __init__(self, streams: list[av.stream.Stream], *, decode_audio: bool = True) -> None:
        """`decode_audio`: count the samples of coded (non-PCM) audio by decoding it (probe only:
        an export decodes it once itself)."""
        self._streams = streams
        self._decode_audio = decode_audio
        self._rows = {s.index: _Row(s) for s in streams}
        self.done_s = 0.0

    def add(self, packet: AnyPacket) -> None:
        row = self._rows[packet.stream.index]
        row.packets += 1
        if row.pcm_frame_bytes:
            row.samples += packet.size // row.pcm_frame_bytes
        elif row.is_audio and self._decode_audio:
            with contextlib.suppress(av.error.FFmpegError):
                row.samples += sum(f.samples for f in packet.decode() if isinstance(f, av.AudioFrame))
        pts = packet.pts
        if pts is not None and not packet.is_discard:  # e.g. AAC priming
            row.start = pts if row.start is None else min(row.start, pts)
            row.end = max(row.end, pts + (packet.duration or 0))
            self.done_s = max(self.done_s, pts * row.seconds_per_tick)

    def info(self, format_name: str, truncated: bool) -> MediaInfo:
        streams = tuple(self._rows[s.index].info() for s in self._streams)
        return _media_info(format_name, streams, truncated)


class _Row:
    """One stream's running counts (ticks in the stream's time base)."""

    def __init__(self, stream: av.stream.Stream) -> None:
        self.stream = stream
        ctx = stream.codec_context
        self.is_audio = isinstance(ctx, av.audio.codeccontext.AudioCodecContext)
        self.pcm_frame_bytes = 0  # bytes per sample of all channels, for PCM audio
        if isinstance(ctx, av.audio.codeccontext.AudioCodecContext) and ctx.name.startswith("pcm_"):
            self.pcm_frame_bytes = max(1, ctx.channels * ctx.format.bytes)
        self.seconds_per_tick = float(stream.time_base or 0)
        self.packets = 0
        self.samples = 0
        self.start: int | None = None
        self.end = -(2**62)

    def info(self) -> StreamInfo:
        ctx = self.stream.codec_context
        shape: dict[str, int] = {}
        if isinstance(ctx, av.video.codeccontext.VideoCodecContext):
            shape = {"width": ctx.width, "height": ctx.height}
        elif isinstance(ctx, av.audio.codeccontext.AudioCodecContext):
            shape = {"sample_rate": ctx.sample_rate, "channels": ctx.channels}
        timed = self.start is not None and self.start <= self.end
        return StreamInfo(
            index=self.stream.index,
            kind=self.stream.type,
            codec=ctx.name,
            packets=self.packets if timed else 0,
            samples=self.samples if timed else 0,
            start_s=(self.start or 0) * self.seconds_per_tick if timed else 0.0,
            end_s=self.end * self.seconds_per_tick if timed else 0.0,
            **shape,
        )


def probe(src: Source) -> MediaInfo:
    """Streams, codecs, duration, frame and sample counts; raises IncidentFormatError."""
    with _open_input(src) as (container, truncated):
        tally = _Tally(_media_streams(container))
        truncated = _copy(container, tally.add) or truncated
        return tally.info(container.format.name, truncated)


def _copy(container: av.container.InputContainer, sink: Callable[[AnyPacket], object]) -> bool:
    """Hand every packet with data to `sink`; True if the input was damaged (stops there)."""
    try:
        for packet in _demux(container, _media_streams(container)):
            sink(packet)
    except _Damaged:
        return True
    return False


class _Progress:
    """Calls `on_progress(seconds_done)` at most every PROGRESS_EVERY_S of media time."""

    def __init__(self, on_progress: ProgressCallback | None) -> None:
        self._callback = on_progress
        self._last = -PROGRESS_EVERY_S
        self.done_s = 0.0

    def update(self, done_s: float) -> None:
        self.done_s = done_s
        if self._callback is not None and done_s - self._last >= PROGRESS_EVERY_S:
            self._last = done_s
            self._callback(done_s)

    def finish(self) -> None:
        if self._callback is not None:
            self._callback(self.done_s)


def export(src: Source, dst: Path, *, on_progress: ProgressCallback | None = None) -> ExportResult:
    """Write `src` (Matroska) to `dst`; the format follows the suffix (.mkv copies, .mp4 re-encodes).

    The output appears atomically (written to `dst.part`, then renamed). A damaged or truncated
    input exports up to the damage and reports `truncated=True`. The counts and duration are those
    of the packets read (audio samples: of PCM input). Raises ValueError for an unknown suffix,
    IncidentFormatError for an unreadable input, StorageError if `dst` cannot be written.
    """
    suffix = dst.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise ValueError(_("cannot export to {suffix!r}: use .mkv or .mp4").format(suffix=dst.suffix))
    part = dst.with_name(dst.name + ".part")
    progress = _Progress(on_progress)
    try:
        with _open_input(src) as (container, truncated):
            tally = _Tally(_media_streams(container), decode_audio=False)
            damaged = _WRITERS[suffix](container, part, _Reading(tally, progress))
            info = tally.info(container.format.name, truncated or damaged)
        raise_if_stopped()  # a signal's exception lost inside libav must not publish the output
        os.replace(part, dst)
    except (OSError, av.error.FFmpegError) as exc:
        raise StorageError(_("cannot write {path}: {error}").format(path=dst, error=exc)) from exc
    finally:
        part.unlink(missing_ok=True)
    progress.finish()
    duration_s = round(info.duration_s, 3)
    log.info("incident_exported", path=str(dst), truncated=info.truncated, duration_s=duration_s)
    return ExportResult(dst, info.video_frames, info.audio_samples, info.duration_s, info.truncated)


@dataclass(frozen=True, slots=True)
class _Reading:
    """What a writer does with each packet it reads, besides writing it."""

    tally: _Tally
    progress: _Progress


def _remux(container: av.container.InputContainer, part: Path, reading: _Reading) -> bool:
    """Stream copy into a new Matroska file (JPEG and PCM bytes untouched); True if input damaged."""
    streams = _media_streams(container)
    tally, progress = reading.tally, reading.progress
    with av.open(str(part), "w", format="matroska") as out:
        mapping = {s.index: out.add_stream_from_template(s) for s in streams}

        def copy(packet: AnyPacket) -> None:
            raise_if_stopped()
            tally.add(packet)
            progress.update(tally.done_s)
            packet.stream = mapping[packet.stream.index]
            out.mux_one(packet)

        return _copy(container, copy)


PREFETCH_PACKETS = 32
"""Decoded packets the MP4 export's decoding thread may run ahead of its encoding thread (about
2 s of 720p15 video and audio, ~40 MB of raw frames at most)."""


def _transcode(container: av.container.InputContainer, part: Path, reading: _Reading) -> bool:
    """Re-encode to H.264 + AAC keeping every timestamp (so A/V sync is kept); True if damaged.

    Demuxing and decoding run on a second thread (`Prefetch`), encoding and muxing on this one:
    both spend their time in libav, which releases the GIL, so the two overlap on two cores.
    """
    streams = _media_streams(container)
    damaged = False
    with av.open(str(part), "w", format="mp4", container_options={"movflags": "+faststart"}) as out:
        encoder = Mp4Encoder(out, streams)

        def decoded() -> Iterator[tuple[float, list[Frame]]]:
            for packet in _demux(container, streams):
                reading.tally.add(packet)
                yield reading.tally.done_s, encoder.prepare(packet)

        try:
            with Prefetch(decoded(), PREFETCH_PACKETS, name="export-decode") as items:
                for done_s, frames in items:
                    raise_if_stopped()
                    reading.progress.update(done_s)
                    encoder.encode(frames)
        except _Damaged:
            damaged = True
        encoder.finish()
    return damaged


_WRITERS: dict[str, Callable[[av.container.InputContainer, Path, _Reading], bool]] = {
    ".mkv": _remux,
    ".mp4": _transcode,
}
EXPORT_SUFFIXES = frozenset(_WRITERS)
"""What `export` can write: .mkv (stream copy) and .mp4 (H.264 + AAC)."""

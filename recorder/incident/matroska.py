"""Matroska muxer for incidents: JPEG frames and PCM blocks go in unchanged, as they arrive."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO, Protocol

import av
import structlog

from recorder.packet import AUDIO_CHANNELS, AUDIO_SAMPLE_BYTES, AUDIO_SAMPLE_RATE, Packet, StreamKind

MS = Fraction(1, 1000)
NS_PER_MS = 1_000_000

# Clusters close at least every 250 ms, and one stalled stream holds the other back at most 1 s
# (libav's interleaving queue), so muxed data reaches `out.write` within about a second.
CONTAINER_OPTIONS = {"cluster_time_limit": "250", "max_interleave_delta": "1000000"}

log = structlog.get_logger()


class Writable(Protocol):
    """Where the Matroska bytes go: anything with `write` (an age stream writer, a file, a pipe)."""

    def write(self, data: bytes, /) -> object: ...


@dataclass(frozen=True, slots=True)
class VideoParams:
    """The video track: frame size, and the nominal frame rate (each frame's duration in the file)."""

    width: int
    height: int
    fps: float | None = None


class _StreamingOutput:
    """Hands bytes to `out` and counts them; it has no `seek`, so libav always writes a live stream.

    Whatever `out` is, the Matroska bytes are then the same: written strictly front to back, never
    patched afterwards (no Cues, no segment size), which is what an append-only age stream needs.
    """

    def __init__(self, out: Writable) -> None:
        self._out = out
        self.bytes_written = 0
        self.writes = 0

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self.bytes_written += len(data)
        self.writes += 1
        return len(data)

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        flush = getattr(self._out, "flush", None)
        if callable(flush):
            flush()


class MatroskaMuxer:
    """Muxes `Packet`s into Matroska (MJPEG video, PCM s16le mono audio) written to `out`.

    Timestamps are `pts_ns - t0_ns` in milliseconds, where `t0_ns` is given here or taken from the
    first packet written. Packets of each stream must come in order; the two streams may interleave
    freely. `close()` writes the end of the stream and flushes `out` but leaves it open: the caller
    owns it. Not thread-safe: one thread (the incident writer) owns a muxer.
    """

    def __init__(
        self, out: Writable, video: VideoParams | None, audio: bool, *, t0_ns: int | None = None
    ) -> None:
        """Raises ValueError if neither video nor audio is wanted."""
        if video is None and not audio:
            raise ValueError("a muxer needs a video or an audio stream")
        self._out = _StreamingOutput(out)
        self._video_params = video
        self._t0_ns = t0_ns
        self._container = av.open(self._out, "w", format="matroska", container_options=CONTAINER_OPTIONS)
        self._video = self._add_video(video) if video is not None else None
        self._audio = self._add_audio() if audio else None
        self._last_pts: dict[StreamKind, int] = {}
        self._closed = False
        self.video_frames = 0
        self.audio_samples = 0
        self.first_pts_ns: int | None = None
        self.last_pts_ns: int | None = None

    def _add_video(self, video: VideoParams) -> av.video.stream.VideoStream:
        if video.width <= 0 or video.height <= 0:
            raise ValueError(f"bad video size {video.width}x{video.height}")
        # No frame rate on the track (Matroska's DefaultDuration): the header is written before the
        # duration is known, and with a declared rate libavformat reads a single frame, sees no
        # video bit rate and estimates the duration from the file size and the PCM track's bit rate
        # alone (a 90 s incident declared 1,020 s). Without it, players show no duration instead;
        # the frame rate is still found from the timestamps, and `recorder export` writes both.
        stream = self._container.add_mux_stream("mjpeg", width=video.width, height=video.height, time_base=MS)
        assert isinstance(stream, av.video.stream.VideoStream)
        return stream

    def _add_audio(self) -> av.audio.stream.AudioStream:
        # add_mux_stream cannot set the channel count, so this takes a (trivial) PCM codec context;
        # packets still pass through it unencoded.
        stream = self._container.add_stream("pcm_s16le", rate=AUDIO_SAMPLE_RATE, layout="mono")
        stream.time_base = MS
        return stream

    @property
    def t0_ns(self) -> int | None:
        """The instant that is time 0 in the file (None until the first packet, if not given)."""
        return self._t0_ns

    @property
    def bytes_written(self) -> int:
        """Bytes handed to `out` so far."""
        return self._out.bytes_written

    def write(self, packet: Packet) -> None:
        """Mux one packet.

        Raises ValueError for a packet before t0, out of order within its stream, of a stream this
        muxer has no track for, or of the wrong shape; RuntimeError after `close()`.
        """
        if self._closed:
            raise RuntimeError("muxer is closed")
        stream = self._check(packet)
        t0 = packet.pts_ns if self._t0_ns is None else self._t0_ns
        pts_ms = (packet.pts_ns - t0 + NS_PER_MS // 2) // NS_PER_MS
        av_packet = av.Packet(packet.payload)
        av_packet.stream = stream
        av_packet.time_base = MS
        av_packet.pts = av_packet.dts = pts_ms
        av_packet.is_keyframe = True
        duration = self._duration_ms(packet)
        if duration is not None:
            av_packet.duration = duration
        self._container.mux_one(av_packet)
        self._t0_ns = t0
        self._count(packet)

    def _check(self, packet: Packet) -> av.stream.Stream:
        is_video = packet.stream is StreamKind.VIDEO
        stream = self._video if is_video else self._audio
        if stream is None:
            raise ValueError(f"this muxer has no {packet.stream.value} track")
        if self._t0_ns is not None and packet.pts_ns < self._t0_ns:
            raise ValueError(f"packet pts {packet.pts_ns} is before t0 {self._t0_ns}")
        last = self._last_pts.get(packet.stream)
        if last is not None and packet.pts_ns < last:
            raise ValueError(f"{packet.stream.value} packet pts {packet.pts_ns} goes back from {last}")
        if is_video:
            self._check_video_size(packet)
        elif len(packet.payload) % (AUDIO_SAMPLE_BYTES * AUDIO_CHANNELS):
            raise ValueError(f"audio payload of {len(packet.payload)} bytes is not whole samples")
        return stream

    def _check_video_size(self, packet: Packet) -> None:
        params = self._video_params
        assert params is not None
        if packet.width and packet.height and (packet.width, packet.height) != (params.width, params.height):
            raise ValueError(
                f"frame is {packet.width}x{packet.height}, track is {params.width}x{params.height}"
            )

    def _duration_ms(self, packet: Packet) -> int | None:
        if packet.stream is StreamKind.AUDIO:
            return (packet.duration_ns + NS_PER_MS // 2) // NS_PER_MS
        fps = self._video_params.fps if self._video_params is not None else None
        return round(1000 / fps) if fps else None

    def _count(self, packet: Packet) -> None:
        self._last_pts[packet.stream] = packet.pts_ns
        if packet.stream is StreamKind.VIDEO:
            self.video_frames += 1
        else:
            self.audio_samples += packet.audio_samples
        if self.first_pts_ns is None:
            self.first_pts_ns = packet.pts_ns
        self.last_pts_ns = max(packet.pts_ns, self.last_pts_ns or packet.pts_ns)

    def close(self) -> None:
        """Write the end of the stream and flush `out` (left open); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._container.close()
        self._out.flush()
        log.debug(
            "matroska_closed",
            video_frames=self.video_frames,
            audio_samples=self.audio_samples,
            bytes=self._out.bytes_written,
        )

    def __enter__(self) -> MatroskaMuxer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_EBML_ID = 0x1A45DFA3
_SEGMENT_ID = 0x18538067


def _read_vint(f: BinaryIO, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer as (value, length in bytes); None if the file ends inside it."""
    first = f.read(1)
    if not first:
        return None
    length = 1
    while length <= 8 and not first[0] & (0x100 >> length):
        length += 1
    if length > 8:
        return None
    rest = f.read(length - 1)
    if len(rest) < length - 1:
        return None
    value = first[0] if keep_marker else first[0] & ((0x100 >> length) - 1)
    for byte in rest:
        value = (value << 8) | byte
    return value, length


def _read_element_header(f: BinaryIO) -> tuple[int, int | None] | None:
    """(id, size) of the element at the file position; size None if unknown; None if cut short."""
    eid = _read_vint(f, keep_marker=True)
    size = _read_vint(f, keep_marker=False)
    if eid is None or size is None:
        return None
    unknown = size[0] == (1 << (7 * size[1])) - 1
    return eid[0], None if unknown else size[0]


def is_truncated(f: BinaryIO) -> bool:
    """True if a seekable Matroska file ends inside a top-level element (e.g. cut mid-cluster).

    A file cut exactly between two clusters cannot be told from a complete live stream; the age
    layer's missing final chunk is what proves truncation there. Elements of unknown size stop the
    walk (reported as not truncated). Restores the file position. Not Matroska: False.
    """
    start = f.tell()
    try:
        end = f.seek(0, 2)
        f.seek(start)
        header = _read_element_header(f)
        if header is None or header[0] != _EBML_ID or header[1] is None:
            return False
        f.seek(header[1], 1)
        segment = _read_element_header(f)
        if segment is None:
            return True
        if segment[0] != _SEGMENT_ID:
            return False
        seg_end = end if segment[1] is None else f.tell() + segment[1]
        if seg_end > end:
            return True
        return _children_truncated(f, seg_end)
    finally:
        f.seek(start)


def _children_truncated(f: BinaryIO, seg_end: int) -> bool:
    pos = f.tell()
    while pos < seg_end:
        child = _read_element_header(f)
        if child is None:
            return True
        if child[1] is None:
            return False
        pos = f.tell() + child[1]
        if pos > seg_end:
            return True
        f.seek(pos)
    return False

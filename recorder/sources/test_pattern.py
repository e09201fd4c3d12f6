"""Built-in test video source: a live JPEG pattern carrying its frame number and an A/V sync marker.

Besides the camera module, this is the one built-in module that imports `cv2`: it draws and encodes
the frames. Every frame shows a moving bar, its frame number and capture time as text, the frame
number as a row of 32 black/white blocks across the top (MSB first, white = 1), and a 64x64 marker
square at the bottom left that is white only during the first 1/fps of every whole second since
the source's start, so that A/V alignment can be checked against the test tone's 1 kHz bursts.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import structlog

from recorder.clock import NS_PER_S, Clock
from recorder.packet import Packet, StreamKind
from recorder.sources.base import PacketSink, StatusSink
from recorder.sources.losses import LossReport
from recorder.sources.threaded import ThreadedSource

FRAME_NUMBER_BITS = 32
BITS_ROW_HEIGHT = 24
MARKER_SIZE = 64
_MAX_WAIT_S = 0.1  # re-read the clock at least this often, so an injected clock is followed

Image = npt.NDArray[np.uint8]
log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class TestPatternConfig:
    """Size, rate and JPEG quality of the generated frames."""

    __test__ = False  # not a pytest test class

    width: int = 1280
    height: int = 720
    fps: float = 15.0
    jpeg_quality: int = 80
    name: str = "test-pattern"

    def __post_init__(self) -> None:
        if self.width < 2 * FRAME_NUMBER_BITS or self.height < BITS_ROW_HEIGHT + MARKER_SIZE + 8:
            raise ValueError(f"test pattern too small: {self.width}x{self.height}")
        if not 0 < self.fps <= 240:
            raise ValueError(f"fps out of range: {self.fps}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality out of range: {self.jpeg_quality}")


def frame_offset_ns(n: int, fps: float) -> int:
    """Scheduled time of frame `n` after the source's start (no accumulated drift)."""
    return round(n * NS_PER_S / fps)


def is_sync_time(elapsed_ns: int, fps: float) -> bool:
    """True during the first 1/fps of every whole second since the source's start."""
    return elapsed_ns >= 0 and elapsed_ns % NS_PER_S < NS_PER_S / fps


@functools.lru_cache(maxsize=4)
def _background(width: int, height: int) -> Image:
    """A static colour gradient, rendered once per size (callers draw on a copy)."""
    xs = np.linspace(40, 160, width, dtype=np.float32)
    ys = np.linspace(30, 120, height, dtype=np.float32)
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:, :, 0] = ys[:, None] + np.zeros_like(xs)[None, :]
    img[:, :, 1] = (xs[None, :] + ys[:, None]) / 2
    img[:, :, 2] = np.zeros_like(ys)[:, None] + xs[None, :]
    img.setflags(write=False)
    return img


def _draw_caption(img: Image, n: int, elapsed_ns: int) -> None:
    """Frame number and capture time as white text on a dark box beside the marker."""
    h, w = img.shape[:2]
    scale = max(0.4, h / 720)
    line = int(36 * scale)
    img[h - 2 * line - 16 :, MARKER_SIZE : min(w, MARKER_SIZE + int(320 * scale))] = 0
    for i, text in enumerate((f"frame {n}", f"t={elapsed_ns / NS_PER_S:.3f} s")):
        org = (MARKER_SIZE + 12, h - 8 - (1 - i) * line - line // 4)
        cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


def _draw_bits(img: Image, n: int) -> None:
    block = img.shape[1] // FRAME_NUMBER_BITS
    for i in range(FRAME_NUMBER_BITS):
        bit = (n >> (FRAME_NUMBER_BITS - 1 - i)) & 1
        img[:BITS_ROW_HEIGHT, i * block : (i + 1) * block] = 255 if bit else 0


def render_frame(config: TestPatternConfig, n: int, elapsed_ns: int) -> Image:
    """Render frame `n` captured `elapsed_ns` after the source's start, as a BGR image."""
    w, h = config.width, config.height
    img = _background(w, h).copy()
    bar_w = max(8, w // 16)
    x = (n * max(1, w // 90)) % (w - bar_w)
    img[BITS_ROW_HEIGHT:, x : x + bar_w] = (0, 220, 255)
    _draw_caption(img, n, elapsed_ns)
    _draw_bits(img, n)
    marker = 255 if is_sync_time(elapsed_ns, config.fps) else 0
    img[h - MARKER_SIZE :, :MARKER_SIZE] = marker
    return img


def encode_jpeg(img: Image, quality: int) -> bytes:
    """JPEG-encode a BGR image; raises RuntimeError if OpenCV refuses."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("cv2.imencode failed")
    return bytes(buf.tobytes())


def frame_packet(config: TestPatternConfig, n: int, t0_ns: int, pts_ns: int, wall_time: float) -> Packet:
    """The packet for frame `n` captured at `pts_ns` by a source started at `t0_ns`."""
    jpeg = encode_jpeg(render_frame(config, n, pts_ns - t0_ns), config.jpeg_quality)
    return Packet(StreamKind.VIDEO, pts_ns, wall_time, n, jpeg, config.width, config.height)


def frames_from(
    config: TestPatternConfig, t0_ns: int, count: int, *, wall_t0: float = 0.0, first: int = 0
) -> Iterator[Packet]:
    """Frames `first`..`first+count-1` captured exactly on schedule, without a thread or a clock."""
    for n in range(first, first + count):
        offset = frame_offset_ns(n, config.fps)
        yield frame_packet(config, n, t0_ns, t0_ns + offset, wall_t0 + offset / NS_PER_S)


def _gray(image: bytes | npt.NDArray[Any]) -> Image:
    if isinstance(image, bytes | bytearray | memoryview):
        gray = cv2.imdecode(np.frombuffer(image, dtype=np.uint8), cv2.IMREAD_GRAYSCALE) if image else None
        if gray is None:
            raise ValueError("not a decodable image")
        return np.asarray(gray, dtype=np.uint8)
    if image.ndim == 2:
        return np.asarray(image, dtype=np.uint8)
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), dtype=np.uint8)


def decode_frame_number(image: bytes | npt.NDArray[Any]) -> int:
    """Read the frame number back from a JPEG or a BGR/gray image; raises ValueError if undecodable."""
    gray = _gray(image)
    block = gray.shape[1] // FRAME_NUMBER_BITS
    margin = max(1, block // 4)
    n = 0
    for i in range(FRAME_NUMBER_BITS):
        cell = gray[4 : BITS_ROW_HEIGHT - 4, i * block + margin : (i + 1) * block - margin]
        n = (n << 1) | int(cell.mean() >= 128)
    return n


def has_sync_marker(image: bytes | npt.NDArray[Any]) -> bool:
    """True if the frame shows the white sync marker; raises ValueError if undecodable."""
    gray = _gray(image)
    h = gray.shape[0]
    return bool(gray[h - MARKER_SIZE + 8 : h - 8, 8 : MARKER_SIZE - 8].mean() >= 128)


class TestPatternSource(ThreadedSource):
    """A `MediaSource` producing test frames paced by real time on its own thread.

    Threads: `start`/`stop` run on the owner's thread; frames are made on the source's thread.
    They share only `_stop` (an Event); `frames_skipped` is written by the source thread alone.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, config: TestPatternConfig, clock: Clock, *, status: StatusSink | None = None) -> None:
        super().__init__(config.name, clock, status)
        self.frames_skipped = 0
        self._config = config
        self._losses = LossReport(config.name, status)

    def _loop(self, sink: PacketSink, t0_ns: int) -> None:
        try:
            self._generate(sink, t0_ns)
        finally:
            self._losses.flush(self._clock.monotonic_ns(), force=True)

    def _generate(self, sink: PacketSink, t0_ns: int) -> None:
        fps = self._config.fps
        n = 0
        while not self._stop.is_set():
            now = self._clock.monotonic_ns()
            wait_ns = t0_ns + frame_offset_ns(n, fps) - now
            if wait_ns > 0:
                self._stop.wait(min(wait_ns / NS_PER_S, _MAX_WAIT_S))
                continue
            latest = self._latest_frame_due(now - t0_ns)
            if latest > n:
                self.frames_skipped += latest - n
                log.warning("frames_skipped", source=self.name, count=latest - n, frame=latest)
                self._losses.add(latest - n, "frames skipped: the capture thread fell behind", now)
                n = latest
            sink(frame_packet(self._config, n, t0_ns, now, self._clock.wall_time()))
            n += 1

    def _latest_frame_due(self, elapsed_ns: int) -> int:
        n = int(elapsed_ns * self._config.fps // NS_PER_S)
        while frame_offset_ns(n, self._config.fps) > elapsed_ns:
            n -= 1
        return n

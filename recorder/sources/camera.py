"""Camera source: a V4L2 device, an HTTP MJPEG or RTSP URL, or a video file, read through OpenCV.

This is the one module that captures with `cv2`. Frames are stamped on the daemon's clock when
`read()` returns them, so a frame's timestamp is late by the camera's own latency (exposure,
encoding, network, demuxer): typically a few ms on a LAN, more for RTSP with B-frames. When the
camera already sends JPEG (MJPEG over HTTP/RTSP, a UVC camera in MJPG mode, an MJPEG file) its bytes
are stored unchanged; otherwise frames are decoded and JPEG-encoded.
"""

from __future__ import annotations

import enum
import math
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import structlog

from recorder.clock import NS_PER_S, Clock
from recorder.config import VideoConfig
from recorder.devices import JPEG_FOURCCS, fourcc_text
from recorder.packet import Packet, StreamKind
from recorder.sources.base import PacketSink, StatusSink
from recorder.sources.frame_timing import FilePacer, FrameClock, RateLimiter, RateMeter, missing_frames
from recorder.sources.losses import LossReport
from recorder.sources.reconnect import ReconnectingSource, SourceEnded, SourceFault

MAX_DECODE_PIXELS = 4096 * 4096
"""Largest pass-through frame the source decodes to scale it (~50 MB decoded). A JPEG's header can
claim any size up to 65535 x 65535: a 1 KB frame from a rogue camera claiming 20000 x 20000 made
OpenCV allocate 1.2 GB and decode for seconds."""
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}

log = structlog.get_logger()


class DeviceKind(enum.Enum):
    V4L2 = "v4l2"
    URL = "url"
    FILE = "file"


def classify_device(device: str) -> tuple[DeviceKind, int | str]:
    """`"0"` → V4L2 index, `/dev/...` → V4L2 node, `scheme://…` → URL, anything else → a file."""
    text = device.strip()
    if text.isdigit():
        return DeviceKind.V4L2, int(text)
    if text.startswith("/dev/"):
        return DeviceKind.V4L2, text
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        return DeviceKind.URL, text
    return DeviceKind.FILE, text


def redact(device: str) -> str:
    """The device for logs and status: a URL's user and password are replaced by `***`."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", r"\1***@", device.strip())


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's start-of-frame header; None if it is not a readable JPEG."""
    if not data.startswith(b"\xff\xd8"):
        return None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if marker in _SOF_MARKERS and pos + 9 <= len(data):
            height, width = struct.unpack_from(">HH", data, pos + 5)
            return width, height
        if marker == 0xDA:  # start of scan before any SOF
            return None
        pos += 2 + length
    return None


@dataclass(slots=True)
class _Timing:
    """The frame timing of one open camera; `limiter` is dropped once the camera proves no faster
    than the configured rate."""

    meter: RateMeter
    clock: FrameClock
    limiter: RateLimiter | None


@dataclass(frozen=True, slots=True)
class _Opened:
    cap: Any  # cv2.VideoCapture (untyped)
    raw: bool
    reported_fps: float
    codec: str


def _new_capture(kind: DeviceKind, target: int | str, config: VideoConfig) -> Any:
    if kind is not DeviceKind.V4L2:
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            round(config.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            round(config.read_timeout_s * 1000),
        ]
        return cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
    cap = cv2.VideoCapture(target, cv2.CAP_V4L2)
    if cap.isOpened():
        if config.passthrough:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, config.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, config.height)
        cap.set(cv2.CAP_PROP_FPS, config.fps)
    return cap


def open_camera(config: VideoConfig, allow_raw: bool) -> _Opened:
    """Open the configured camera and switch to raw JPEG output where possible. Raises SourceFault."""
    kind, target = classify_device(config.device)
    if kind is DeviceKind.FILE and not Path(str(target)).is_file():
        raise SourceFault(f"no such video file: {target}")
    cap = _new_capture(kind, target, config)
    if not cap.isOpened():
        cap.release()
        raise SourceFault(f"cannot open camera {redact(config.device)}")
    codec = fourcc_text(int(cap.get(cv2.CAP_PROP_FOURCC)))
    raw = False
    if allow_raw and config.passthrough and codec.upper() in JPEG_FOURCCS:
        prop, value = (cv2.CAP_PROP_CONVERT_RGB, 0) if kind is DeviceKind.V4L2 else (cv2.CAP_PROP_FORMAT, -1)
        raw = bool(cap.set(prop, value))
    return _Opened(cap, raw, float(cap.get(cv2.CAP_PROP_FPS) or 0.0), codec)


class CameraSource(ReconnectingSource):
    """A `MediaSource` reading one camera on its own thread, reconnecting with backoff when it fails.

    Threads: `start`/`stop` run on the owner's thread; everything else runs on the source's thread.
    They share only the stop event. `passthrough_active` is written by the source thread and only
    read by others.
    """

    def __init__(
        self, config: VideoConfig, clock: Clock, *, status: StatusSink | None = None, name: str = "camera"
    ) -> None:
        super().__init__(name, status, config.reconnect_initial_s, config.reconnect_max_s)
        self.passthrough_active = False
        self._config = config
        self._clock = clock
        self._allow_raw = True  # cleared for good if the camera sends non-JPEG data in raw mode
        self._seq = 0
        self._size = (config.width, config.height)
        self._losses = LossReport(name, status)
        self._frame_clock = FrameClock()  # across reopens, so that times never go back
        self._warned_size = False
        self._log = log.bind(source=name, device=redact(config.device))

    def _session(self, sink: PacketSink) -> None:
        kind, _ = classify_device(self._config.device)
        pacer = FilePacer(self._clock, self._thread.stop_event) if kind is DeviceKind.FILE else None
        limiter = RateLimiter(self._config.fps)
        while not self._thread.stop_event.is_set():
            opened = open_camera(self._config, self._allow_raw)
            try:
                frames = self._read_all(opened, sink, limiter, pacer)
            finally:
                opened.cap.release()
            if self._thread.stop_event.is_set():
                return
            if pacer is None:
                raise SourceFault("camera stream ended")
            if not self._config.loop or frames == 0:
                raise SourceEnded("end of video file")
            self._log.info("camera_file_looped", frames=frames)

    def _read_all(
        self, opened: _Opened, sink: PacketSink, limiter: RateLimiter, pacer: FilePacer | None
    ) -> int:
        """Read until stop (returns), end of file (returns the frame count) or failure (raises)."""
        self.passthrough_active = opened.raw
        self._frame_clock.restart(trust_media=pacer is not None)  # a file's positions are its timestamps
        timing = _Timing(RateMeter(), self._frame_clock, limiter)
        frames = 0
        try:
            while not self._thread.stop_event.is_set():
                ok, frame = opened.cap.read()
                if not ok or frame is None:
                    if pacer is not None:
                        return frames
                    timeout = self._config.read_timeout_s
                    raise SourceFault(f"camera stream ended or sent no frame within {timeout:g} s")
                if pacer is not None:
                    pacer.wait_for_frame(opened.reported_fps or self._config.fps)
                pts = self._stamp(opened, timing)
                if pts is None:
                    continue
                payload, delivered = self._payload(frame, opened.raw)
                if frames == 0:
                    self._on_first_frame(opened, delivered)
                frames += 1
                wall = self._clock.wall_time() - (self._clock.monotonic_ns() - pts) / NS_PER_S
                sink(Packet(StreamKind.VIDEO, pts, wall, self._seq, payload, *self._size))
                self._seq += 1
            return frames
        finally:
            self._losses.flush(self._clock.monotonic_ns(), force=True)

    def _stamp(self, opened: _Opened, timing: _Timing) -> int | None:
        """The frame's capture time, or None if the rate limit drops it. Counts what the camera
        skipped (a gap in its trusted timestamps) as lost, and leaves a gap in `seq` for it."""
        arrival = self._clock.monotonic_ns()
        media_ms = float(opened.cap.get(cv2.CAP_PROP_POS_MSEC))
        media = round(media_ms * 1e6) if math.isfinite(media_ms) and media_ms >= 0 else None
        pts = timing.clock.stamp(arrival, media)
        if timing.meter.tick(arrival, media):
            self._on_rate_measured(timing)
        if timing.clock.trust_media:
            fps = timing.meter.media_fps or opened.reported_fps or self._config.fps
            missing = missing_frames(timing.clock.step_ns, NS_PER_S / fps)
            self._seq += missing
            self._losses.add(missing, "frames the camera skipped (a gap in its timestamps)", arrival)
        if timing.limiter is not None and not timing.limiter.keep(pts):
            return None
        return pts

    def _on_rate_measured(self, timing: _Timing) -> None:
        meter, configured = timing.meter, self._config.fps
        if meter.media_agrees:
            timing.clock.trust_media = True
        if meter.fps <= configured * 1.1:
            timing.limiter = None  # nothing to thin out: never drop a frame of a camera at our rate
        self._log.info(
            "camera_rate_measured",
            delivered_fps=round(meter.fps, 2),
            requested_fps=configured,
            timestamps="camera" if timing.clock.trust_media else "arrival",
            rate_limited=timing.limiter is not None,
        )

    def _on_first_frame(self, opened: _Opened, delivered: tuple[int, int]) -> None:
        cfg = self._config
        mode = "jpeg-passthrough" if opened.raw else "decode-reencode"
        detail = (
            f"{redact(cfg.device)}: requested {cfg.width}x{cfg.height}@{cfg.fps:g}, delivered "
            f"{delivered[0]}x{delivered[1]} (device reports {opened.reported_fps:g} fps, "
            f"codec {opened.codec or '?'}), {mode}"
        )
        self._log.info(
            "camera_opened",
            requested=f"{cfg.width}x{cfg.height}@{cfg.fps:g}",
            delivered=f"{delivered[0]}x{delivered[1]}",
            reported_fps=opened.reported_fps,
            codec=opened.codec,
            mode=mode,
        )
        self._backoff.reset()
        self._health.recovered(detail)

    def _payload(self, frame: Any, raw: bool) -> tuple[bytes, tuple[int, int]]:
        """The JPEG to store, always of the configured size (the incident's track size), and the
        size the camera delivered."""
        want = (self._config.width, self._config.height)
        if raw:
            data = bytes(frame.tobytes())
            size = jpeg_size(data)
            if size is None:
                self._allow_raw = False
                raise SourceFault("camera sent a non-JPEG frame in pass-through mode; reopening without")
            if size == want:
                return data, size
            if size[0] * size[1] > MAX_DECODE_PIXELS:
                raise SourceFault(
                    f"camera sent a {size[0]}x{size[1]} frame, too large to decode (over 4096x4096)"
                )
            image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
            if image is None:
                raise SourceFault("camera sent an undecodable JPEG")
        else:
            image = frame
        height, width = image.shape[:2]
        return self._encode(image, want), (width, height)

    def _encode(self, image: Any, want: tuple[int, int]) -> bytes:
        height, width = image.shape[:2]
        if (width, height) != want:
            if not self._warned_size:
                self._warned_size = True
                self._log.warning(
                    "camera_size_mismatch",
                    delivered=f"{width}x{height}",
                    configured=f"{want[0]}x{want[1]}",
                    action="scaled and re-encoded",
                )
            image = cv2.resize(image, want, interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self._config.jpeg_quality])
        if not ok:
            raise SourceFault("cv2.imencode failed")
        return bytes(buf.tobytes())

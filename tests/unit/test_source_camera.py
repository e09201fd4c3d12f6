"""Pure parts of the camera source: device names, JPEG headers, frame-rate limiting."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from recorder.sources.camera import DeviceKind, classify_device, jpeg_size, redact
from recorder.sources.frame_timing import RateLimiter

NS = 1_000_000_000
MS = 1_000_000
PERIOD = round(NS / 15)


@pytest.mark.parametrize(
    ("device", "kind", "target"),
    [
        ("0", DeviceKind.V4L2, 0),
        ("/dev/video2", DeviceKind.V4L2, "/dev/video2"),
        ("/dev/v4l/by-id/usb-Cam-video-index0", DeviceKind.V4L2, "/dev/v4l/by-id/usb-Cam-video-index0"),
        ("http://10.0.0.5/mjpg", DeviceKind.URL, "http://10.0.0.5/mjpg"),
        ("rtsp://cam:554/stream1", DeviceKind.URL, "rtsp://cam:554/stream1"),
        ("clips/room.mkv", DeviceKind.FILE, "clips/room.mkv"),
    ],
)
def test_devices_are_classified(device: str, kind: DeviceKind, target: int | str) -> None:
    assert classify_device(device) == (kind, target)


def test_credentials_in_urls_never_reach_logs() -> None:
    assert redact("rtsp://admin:s3cret@10.0.0.9:554/h264") == "rtsp://***@10.0.0.9:554/h264"
    assert redact("http://10.0.0.9/a@b") == "http://10.0.0.9/a@b"


def _jpeg(width: int, height: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.zeros((height, width, 3), np.uint8))
    assert ok
    return bytes(buf.tobytes())


def test_jpeg_size_reads_the_frame_header() -> None:
    assert jpeg_size(_jpeg(1280, 720)) == (1280, 720)
    assert jpeg_size(_jpeg(33, 17)) == (33, 17)


@pytest.mark.parametrize("data", [b"", b"\x00\x00\x00\x01gd", b"\xff\xd8\xff", b"\xff\xd8\x00\x10abc"])
def test_jpeg_size_rejects_what_is_not_a_jpeg(data: bytes) -> None:
    assert jpeg_size(data) is None


def _kept(source_fps: float, target_fps: float, seconds: float, jitter_ms: float = 0) -> int:
    limiter = RateLimiter(target_fps)
    rng = np.random.default_rng(1)
    times = [
        round(i * NS / source_fps + rng.uniform(-jitter_ms, jitter_ms) * 1e6)
        for i in range(int(seconds * source_fps))
    ]
    return sum(limiter.keep(t) for t in times)


def test_rate_limiter_halves_a_camera_twice_as_fast() -> None:
    assert _kept(30, 15, 10) == pytest.approx(150, abs=1)


def test_rate_limiter_keeps_every_frame_of_a_jittery_camera_at_the_rate() -> None:
    assert _kept(15, 15, 10, jitter_ms=10) == 150


def test_rate_limiter_keeps_a_slower_camera_whole() -> None:
    assert _kept(10, 15, 10) == 100


def burst_after_stall(stall_ms: int, frames: int = 45) -> list[tuple[int, int]]:
    """(arrival, capture) of a 15 fps camera whose reader stalls `stall_ms` after frame 10: the
    frames captured meanwhile arrive back to back, 0.2 ms apart, when it resumes."""
    times, resumed = [], 10 * PERIOD + stall_ms * MS
    for n in range(frames):
        capture = n * PERIOD + 3 * MS
        arrival = capture + 2 * MS
        if n > 10 and capture < resumed:
            arrival = resumed + (n - 10) * MS // 5
        times.append((max(arrival, capture + 2 * MS), capture))
    return times


@pytest.mark.parametrize("stall_ms", [250, 750, 1900])
def test_the_limiter_keeps_every_frame_of_a_burst_after_a_stall(stall_ms: int) -> None:
    limiter = RateLimiter(15)
    assert all(limiter.keep(arrival) for arrival, _ in burst_after_stall(stall_ms))
    assert limiter.dropped == 0


def test_the_limiter_still_thins_a_faster_camera_after_a_stall() -> None:
    limiter = RateLimiter(15)
    arrivals = [n * PERIOD // 2 for n in range(300)]  # 30 fps for 10 s
    assert sum(limiter.keep(t) for t in arrivals) == pytest.approx(150, abs=1)

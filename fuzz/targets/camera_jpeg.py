"""What the camera source does with the bytes of a pass-through frame (an MJPEG camera, or a rogue
one): `jpeg_size` reads the start-of-frame header; a frame of another size is decoded to be scaled.

The HTTP MJPEG stream itself is parsed by FFmpeg inside OpenCV (`cv2.VideoCapture`), not by this
project's code: it is not fuzzed here (see docs/reliability.md, "Fuzzing").
Contract: `jpeg_size` returns None or a size, never raises; the frame's handling raises nothing but
SourceFault, and memory stays bounded (the runner's RSS limit) whatever size the header claims."""

from __future__ import annotations

import cv2
import numpy as np

from fuzz.contract import expect, silence_logs
from recorder.clock import ManualClock
from recorder.config import VideoConfig
from recorder.sources.camera import CameraSource, jpeg_size
from recorder.sources.reconnect import SourceFault

SURFACE = "pass-through JPEG frames → camera.jpeg_size and the source's frame handling (_payload)"
_source: CameraSource | None = None


def one_input(data: bytes) -> None:
    global _source
    if _source is None:
        silence_logs()
        config = VideoConfig.model_validate(
            {"source": "camera", "device": "/dev/null", "width": 160, "height": 120}
        )
        _source = CameraSource(config, ManualClock())
    size = jpeg_size(data)
    expect(size is None or all(0 <= side <= 0xFFFF for side in size), f"jpeg_size gave {size}")
    frame = np.frombuffer(data, dtype=np.uint8)
    try:
        payload, delivered = _source._payload(frame, raw=True)
    except SourceFault:
        _source._allow_raw = True
        return
    expect(
        jpeg_size(payload) == (160, 120), f"stored a frame of {jpeg_size(payload)}, not the configured size"
    )
    expect(delivered == size, f"delivered {delivered}, the header says {size}")


def seeds() -> list[bytes]:
    out = []
    for width, height in ((160, 120), (32, 24), (1, 1), (200, 150)):
        image = np.zeros((height, width, 3), dtype=np.uint8)
        image[:, : width // 2] = (0, 128, 255)
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 50])
        expect(ok, "cv2.imencode failed")
        out.append(bytes(jpeg.tobytes()))
    return out

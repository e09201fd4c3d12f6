"""RTSP cameras from a GStreamer RTSP server on 127.0.0.1: H.264 is re-encoded, RTP/JPEG passes through."""

from __future__ import annotations

from pathlib import Path

import pytest

from recorder.clock import SystemClock
from recorder.config import VideoConfig
from recorder.sources.camera import CameraSource, jpeg_size
from tests.integration.media_servers import Collector, free_port, rtsp_available, rtsp_server

pytestmark = pytest.mark.skipif(
    not rtsp_available(),
    reason="needs Debian's python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-{base,good,ugly}",
)


def _record(url: str, frames: int) -> tuple[CameraSource, Collector]:
    collector = Collector()
    config = VideoConfig.model_validate({"source": "camera", "device": url, "width": 640, "height": 360})
    camera = CameraSource(config, SystemClock(), status=collector.status)
    camera.start(collector.packet)
    try:
        collector.wait(lambda: len(collector.packets) >= frames, 10, f"{frames} frames")
    finally:
        camera.stop()
    return camera, collector


@pytest.mark.parametrize(("codec", "passthrough"), [("h264", False), ("jpeg", True)])
def test_rtsp_camera_delivers_jpeg_frames(tmp_path: Path, codec: str, passthrough: bool) -> None:
    with rtsp_server(tmp_path, free_port(), codec) as url:
        camera, got = _record(url, 20)
    assert camera.passthrough_active is passthrough
    assert all(jpeg_size(p.payload) == (640, 360) for p in got.packets)
    assert [healthy for _, healthy, _ in got.statuses] == [True]
    assert ("jpeg-passthrough" if passthrough else "decode-reencode") in got.statuses[0][2]

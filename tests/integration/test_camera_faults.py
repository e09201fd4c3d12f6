"""Network camera faults: refused, hung and recovering cameras, with backoff that stop() interrupts."""

from __future__ import annotations

import time

from structlog.testing import capture_logs

from recorder.clock import SystemClock
from recorder.config import VideoConfig
from recorder.sources.camera import CameraSource
from tests.integration.media_servers import Collector, MarkerClock, MjpegServer, free_port

FAST = {"open_timeout_s": 0.5, "read_timeout_s": 0.5, "reconnect_initial_s": 0.1, "reconnect_max_s": 0.4}


def _camera(url: str) -> tuple[CameraSource, Collector]:
    collector = Collector()
    config = VideoConfig.model_validate(
        {"source": "camera", "device": url, "width": 640, "height": 360, **FAST}
    )
    return CameraSource(config, SystemClock(), status=collector.status), collector


def test_unreachable_camera_degrades_at_once_and_backs_off_to_the_cap() -> None:
    camera, got = _camera(f"http://127.0.0.1:{free_port()}/cam.mjpg")
    with capture_logs() as logs:
        camera.start(got.packet)
        try:
            got.wait(lambda: len(got.statuses) > 0, 2, "a status")
            time.sleep(1.2)
        finally:
            camera.stop()
    assert [healthy for _, healthy, _ in got.statuses] == [False]
    delays = [e["delay_s"] for e in logs if e["event"] == "source_reconnect_scheduled"]
    assert delays[:4] == [0.1, 0.2, 0.4, 0.4]


def test_stop_interrupts_a_long_backoff_wait() -> None:
    collector = Collector()
    config = VideoConfig.model_validate(
        {
            "source": "camera",
            "device": f"http://127.0.0.1:{free_port()}/x",
            "reconnect_initial_s": 30,
            "reconnect_max_s": 60,
        }
    )
    camera = CameraSource(config, SystemClock(), status=collector.status)
    camera.start(collector.packet)
    collector.wait(lambda: len(collector.statuses) > 0, 2, "the failure")
    started = time.monotonic()
    camera.stop()
    assert time.monotonic() - started < 0.5


def test_hung_camera_is_noticed_within_the_read_timeout_and_recovers() -> None:
    server = MjpegServer(free_port(), MarkerClock())
    server.start()
    camera, got = _camera(server.url)
    camera.start(got.packet)
    try:
        got.wait(lambda: len(got.packets) >= 5, 5, "frames")
        server.paused.set()
        hung_at = time.monotonic()
        got.wait(lambda: any(not healthy for _, healthy, _ in got.statuses), 3, "the failure")
        noticed_after = got.statuses[-1][0] - hung_at
        server.paused.clear()
        count = got.count()
        got.wait(lambda: got.statuses[-1][1] and len(got.packets) > count + 5, 5, "recovery")
    finally:
        camera.stop()
        server.stop()
    assert noticed_after < FAST["read_timeout_s"] + 0.5
    assert [healthy for _, healthy, _ in got.statuses] == [True, False, True]
    assert camera.passthrough_active

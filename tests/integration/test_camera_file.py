"""A video file as a camera: played at its own frame rate, looped or ended, MJPEG passed through."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import av
import pytest
from structlog.testing import capture_logs

from recorder.clock import SystemClock
from recorder.config import VideoConfig
from recorder.sources.camera import CameraSource, jpeg_size
from tests.integration.media_servers import Collector
from tests.support import needs_tools

pytestmark = needs_tools("ffmpeg")

FILE_FPS = 10
FILE_FRAMES = 10


def _make_clip(path: Path, codec: str) -> Path:
    subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"testsrc=size=320x240:rate={FILE_FPS}",
            "-frames:v",
            str(FILE_FRAMES),
            "-c:v",
            codec,
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return path


@pytest.fixture(scope="module")
def mjpeg_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_clip(tmp_path_factory.mktemp("clips") / "clip.avi", "mjpeg")


@pytest.fixture(scope="module")
def mpeg4_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_clip(tmp_path_factory.mktemp("clips") / "clip.mkv", "mpeg4")


def _camera(device: Path, **fields: object) -> tuple[CameraSource, Collector]:
    collector = Collector()
    config = VideoConfig.model_validate(
        {"source": "camera", "device": str(device), "width": 320, "height": 240, "fps": 30, **fields}
    )
    return CameraSource(config, SystemClock(), status=collector.status), collector


def test_file_plays_at_its_own_rate_with_its_jpeg_bytes(mjpeg_clip: Path) -> None:
    with av.open(str(mjpeg_clip)) as container:
        file_frames = [bytes(p) for p in container.demux(video=0) if p.size]
    camera, got = _camera(mjpeg_clip)
    camera.start(got.packet)
    try:
        got.wait(lambda: len(got.packets) >= FILE_FRAMES, 5, "the whole clip")
    finally:
        camera.stop()
    played = got.packets[:FILE_FRAMES]
    assert [p.payload for p in played] == file_frames
    duration_s = (played[-1].pts_ns - played[0].pts_ns) / 1e9
    assert abs(duration_s - (FILE_FRAMES - 1) / FILE_FPS) < 0.1


def test_file_without_loop_ends_and_reports_it_once(mjpeg_clip: Path) -> None:
    camera, got = _camera(mjpeg_clip)
    camera.start(got.packet)
    try:
        got.wait(lambda: any(not healthy for _, healthy, _ in got.statuses), 5, "the end of the file")
        time.sleep(0.3)
    finally:
        camera.stop()
    assert len(got.packets) == FILE_FRAMES
    assert [(healthy, detail) for _, healthy, detail in got.statuses][-1] == (False, "end of video file")


def test_looped_file_keeps_playing(mjpeg_clip: Path) -> None:
    camera, got = _camera(mjpeg_clip, loop=True)
    camera.start(got.packet)
    try:
        got.wait(lambda: len(got.packets) >= 2 * FILE_FRAMES + 3, 5, "a second pass")
    finally:
        camera.stop()
    assert got.packets[FILE_FRAMES].payload == got.packets[0].payload
    seqs = [p.seq for p in got.packets]
    assert seqs == list(range(len(seqs)))
    assert [healthy for _, healthy, _ in got.statuses] == [True]


def test_non_jpeg_file_is_decoded_scaled_and_encoded(mpeg4_clip: Path) -> None:
    camera, got = _camera(mpeg4_clip, width=640, height=360)
    with capture_logs() as logs:
        camera.start(got.packet)
        try:
            got.wait(lambda: len(got.packets) >= 3, 5, "frames")
        finally:
            camera.stop()
    assert not camera.passthrough_active
    assert all(jpeg_size(p.payload) == (640, 360) and (p.width, p.height) == (640, 360) for p in got.packets)
    mismatch = [e for e in logs if e["event"] == "camera_size_mismatch"]
    assert mismatch and mismatch[0]["delivered"] == "320x240"
    assert "requested 640x360@30, delivered 320x240" in got.statuses[0][2]

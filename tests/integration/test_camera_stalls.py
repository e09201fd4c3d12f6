"""A stalled capture thread loses no frame: the camera (here a file, played at its own rate) hands
over the late frames in a burst, and every one is kept, one clock, in order, at its own spacing."""

from __future__ import annotations

import itertools
import subprocess
import time
from pathlib import Path

from recorder.clock import SystemClock
from recorder.config import VideoConfig
from recorder.packet import Packet
from recorder.sources.camera import CameraSource
from tests.integration.media_servers import Collector
from tests.support import needs_tools

pytestmark = needs_tools("ffmpeg")

FPS = 15
FRAMES = 45
STALL_S = 0.25
STALLS_AFTER = (8, 18, 28)  # frames delivered before each stall of the capture thread


def make_clip(path: Path, frames: int, select: str | None = None) -> Path:
    """An MJPEG clip of `frames` frames at FPS, of the test source's frames `select` keeps."""
    vf = ["-vf", select, "-fps_mode", "passthrough"] if select else []
    subprocess.run(
        [
            *("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi"),
            *(
                "-i",
                f"testsrc=size=320x240:rate={FPS}",
                "-frames:v",
                str(frames),
                *vf,
                "-c:v",
                "mjpeg",
                str(path),
            ),
        ],
        check=True,
        timeout=60,
    )
    return path


def play_to_end(clip: Path, got: Collector) -> None:
    config = VideoConfig.model_validate(
        {"source": "camera", "device": str(clip), "width": 320, "height": 240, "fps": FPS}
    )
    camera = CameraSource(config, SystemClock(), status=got.status)
    camera.start(got.packet)
    try:
        got.wait(lambda: any(not healthy for _, healthy, _ in got.statuses), 15, "the end of the clip")
    finally:
        camera.stop()


class StallingSink(Collector):
    """Blocks the capture thread for STALL_S after given frames, as a GC pause or a slow disk would."""

    def packet(self, packet: Packet) -> None:
        super().packet(packet)
        if self.count() in STALLS_AFTER:
            time.sleep(STALL_S)


def test_three_stalls_lose_no_frame_and_keep_the_spacing(tmp_path: Path) -> None:
    got = StallingSink()
    play_to_end(make_clip(tmp_path / "clip.mkv", FRAMES), got)
    assert len(got.packets) == FRAMES
    assert [p.seq for p in got.packets] == list(range(FRAMES))
    steps_ms = [(b.pts_ns - a.pts_ns) / 1e6 for a, b in itertools.pairwise(got.packets)]
    period_ms = 1000 / FPS
    assert all(abs(step - period_ms) < 15 for step in steps_ms), [round(s) for s in steps_ms]
    assert got.losses == []


def test_frames_the_camera_skipped_are_counted_reported_and_left_as_a_gap(tmp_path: Path) -> None:
    """A clip whose frames 10-14 are missing (their timestamps skip 5 periods), as a camera that
    drops frames delivers them."""
    got = Collector()
    play_to_end(make_clip(tmp_path / "gap.mkv", 30, r"select='not(between(n\,10\,14))'"), got)
    assert [p.seq for p in got.packets] == [*range(10), *range(15, 35)]  # 30 frames are kept
    assert got.losses == [("frames the camera skipped (a gap in its timestamps)", 5)]

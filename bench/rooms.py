"""Rooms for the benchmarks: real `recorder run` daemons on IP cameras (the camera farm) and the test tone."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.camera_farm import CameraFarm, make_clip
from panic_button.client import NoContact
from recorder.demo import DemoRoom, free_tcp_port, set_up_room
from tests.integration.media_servers import configure_media
from tests.support import RunningDaemon

WIDTH, HEIGHT, FPS = 1280, 720, 15


def camera_section(url: str) -> str:
    return f'source = "camera"\ndevice = "{url}"\nwidth = {WIDTH}\nheight = {HEIGHT}\nfps = {FPS}'


def lay_out(
    root: Path,
    video: str,
    pre_roll_s: float,
    post_roll_s: float = 1.0,
    *,
    audio: bool = True,
    control: str = "",
) -> DemoRoom:
    """A room's files (keys, enrolled button, officer, config) with `video` and the 48 kHz test tone
    (unless not `audio`); `control` adds keys to its [control] section."""
    root.mkdir(parents=True)
    room = set_up_room(root, pre_roll_s=pre_roll_s, post_roll_s=post_roll_s)
    configure_media(room.config, video, f'source = "{"test-tone" if audio else "none"}"')
    if control:
        text = room.config.read_text()
        room.config.write_text(text.replace("[control]\n", f"[control]\n{control.strip()}\n", 1))
    return room


def start(room: DemoRoom, *, debug: bool = False) -> RunningDaemon:
    """Start a room's daemon without waiting for it (see `wait_ready`)."""
    log_path = room.root / "daemon.log"
    level = ["--log-level", "debug"] if debug else []
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "recorder", *level, "run", "--config", str(room.config)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return RunningDaemon(room, process, log_path)


def spawn(
    root: Path,
    video: str,
    pre_roll_s: float,
    post_roll_s: float = 1.0,
    *,
    audio: bool = True,
    debug: bool = False,
) -> RunningDaemon:
    """`lay_out` and `start` in one."""
    return start(lay_out(root, video, pre_roll_s, post_roll_s, audio=audio), debug=debug)


def wait_ready(daemons: list[RunningDaemon], timeout_s: float = 120.0) -> None:
    """Wait until every daemon answers `status`. Raises RuntimeError naming the first that did not."""
    deadline = time.monotonic() + timeout_s
    for daemon in daemons:
        client = daemon.client(timeout_s=1.0, retries=1)
        try:
            while True:
                if daemon.process.poll() is not None:
                    raise RuntimeError(f"daemon exited with {daemon.process.returncode}: {daemon.log_path}")
                try:
                    client.status()
                    break
                except NoContact:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"daemon did not answer: {daemon.log_path}") from None
        finally:
            client.close()


class CameraRooms:
    """N rooms, each on its own HTTP MJPEG camera of the farm; `add` grows the set."""

    def __init__(self, work: Path, cameras: int, clip: Path) -> None:
        self._work = work
        self.clip = make_clip(clip)
        self.ports = [free_tcp_port() for _ in range(cameras)]
        self.farm = CameraFarm(self.clip, self.ports, FPS)
        self.daemons: list[RunningDaemon] = []

    def add(
        self, count: int, pre_roll_s: float, post_roll_s: float = 1.0, *, debug: bool = False
    ) -> list[RunningDaemon]:
        """Start `count` more rooms and wait until they answer. Raises RuntimeError."""
        first = len(self.daemons)
        if first + count > len(self.ports):
            raise RuntimeError(f"the farm has {len(self.ports)} cameras")
        new = [
            spawn(
                self._work / f"room-{i}",
                camera_section(self.farm.url(self.ports[i])),
                pre_roll_s,
                post_roll_s,
                debug=debug,
            )
            for i in range(first, first + count)
        ]
        self.daemons += new
        wait_ready(new)
        return new

    def close(self) -> dict[int, int]:
        for daemon in self.daemons:
            if daemon.process.poll() is None:
                daemon.process.terminate()
        for daemon in self.daemons:
            daemon.stop()
        return self.farm.stop()

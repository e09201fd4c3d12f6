"""An Xvfb display for the Tk front-end tests: start it, screenshot it (pixels as numpy), save shots.

Set UPDATE_SCREENSHOTS=1 to copy the shots the tests keep into docs/screenshots/.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@dataclass
class Shot:
    pixels: np.ndarray[Any, np.dtype[np.uint8]]  # height x width x RGB

    def mask(self, colour: str) -> np.ndarray[Any, np.dtype[np.bool_]]:
        rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
        return np.all(self.pixels == rgb, axis=2)

    def count(self, colour: str) -> int:
        return int(self.mask(colour).sum())

    def first_region_centre(self, colour: str) -> tuple[int, int]:
        """Centre of the topmost patch of `colour` (e.g. the first row's button)."""
        rows = np.flatnonzero(self.mask(colour).any(axis=1))
        assert rows.size, f"no {colour} on screen"
        gaps = np.flatnonzero(np.diff(rows) > 1)
        last = rows[gaps[0]] if gaps.size else rows[-1]
        ys, xs = np.nonzero(self.mask(colour)[rows[0] : last + 1])
        return int(xs.mean()), int(rows[0] + ys.mean())


@dataclass
class Screen:
    display: str  # e.g. ":91.0"

    def run(self, *args: str) -> str:
        env = {**os.environ, "DISPLAY": self.display}
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=10, check=False)
        if done.returncode != 0:
            raise AssertionError(f"{args} failed: {done.stderr}")
        return done.stdout

    def shot(self, window: str = "root") -> Shot:
        env = {**os.environ, "DISPLAY": self.display}
        command = ["/usr/bin/import", "-window", window, "-depth", "8", "ppm:-"]
        ppm = subprocess.run(command, env=env, capture_output=True, timeout=10, check=True).stdout
        magic, size, depth = ppm.split(b"\n", 3)[:3]
        assert magic == b"P6" and depth == b"255", ppm[:20]
        width, height = (int(v) for v in size.split())
        return Shot(np.frombuffer(ppm[-width * height * 3 :], dtype=np.uint8).reshape(height, width, 3))

    def save(self, path: Path, window: str = "root", resize: str = "100%") -> None:
        self.run("/usr/bin/import", "-window", window, "-resize", resize, str(path))

    def keep(self, name: str, tmp_path: Path, window: str = "root", resize: str = "100%") -> Path:
        """Save a screenshot in `tmp_path` (and into docs/screenshots/ with UPDATE_SCREENSHOTS=1)."""
        path = tmp_path / name
        self.save(path, window, resize)
        if os.environ.get("UPDATE_SCREENSHOTS"):
            DOCS.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, DOCS / name)
        return path

    def find_window(self, title: str, timeout_s: float = 15.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                return self.run("xdotool", "search", "--name", f"^{title}$").split()[0]
            except AssertionError:
                time.sleep(0.1)
        raise AssertionError(f"no window named {title!r}")


@contextmanager
def xvfb(*sizes: str) -> Iterator[list[Screen]]:
    """An Xvfb server with one screen per size (e.g. "1280x800"), on the first free display :90-:99."""
    screens = [arg for index, size in enumerate(sizes) for arg in ("-screen", str(index), f"{size}x24")]
    for number in range(90, 100):
        if Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
            continue
        server = subprocess.Popen(
            ["Xvfb", f":{number}", *screens, "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        socket = Path(f"/tmp/.X11-unix/X{number}")
        wait(lambda: socket.exists() or server.poll() is not None, 10)  # noqa: B023 - called right here
        if socket.exists() and server.poll() is None:
            try:
                yield [Screen(f":{number}.{index}") for index in range(len(sizes))]
            finally:
                server.terminate()
                server.wait(timeout=10)
            return
        server.kill()
        server.wait()
    raise RuntimeError("no free X display in :90-:99 (is xvfb installed?)")


_SHARED: list[Screen] = []


def shared_screens() -> list[Screen]:
    """One Xvfb (1280x800 and 1920x1080) for every test that opens Tk in this process, stopped when the
    process exits. Not one per module: Tk keeps a display open after its window is destroyed, and Xlib
    ends the process if that X server goes away while Tk still handles events."""
    if not _SHARED:
        stack = ExitStack()
        _SHARED.extend(stack.enter_context(xvfb("1280x800", "1920x1080")))
        atexit.register(stack.close)
    return _SHARED


def wait(
    condition: Callable[[], object], timeout_s: float = 5.0, step: Callable[[], object] | None = None
) -> bool:
    """Poll `condition` (calling `step` first, e.g. a Tk update) until true or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if step is not None:
            step()
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())

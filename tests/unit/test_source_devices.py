"""`recorder devices`: V4L2 enumeration against a fake driver, sysfs discovery, and the JSON output."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from recorder import devices
from recorder.devices import (
    VIDIOC_ENUM_FMT,
    VIDIOC_ENUM_FRAMEINTERVALS,
    VIDIOC_ENUM_FRAMESIZES,
    VIDIOC_QUERYCAP,
    list_cameras,
    probe_fd,
)

MJPG = struct.unpack("<I", b"MJPG")[0]
YUYV = struct.unpack("<I", b"YUYV")[0]


class FakeDriver:
    """Answers the four ioctls like a UVC webcam with MJPG (two sizes) and YUYV (a stepwise range)."""

    def __init__(self, capture: bool = True) -> None:
        self.capture = capture
        self.formats = [(MJPG, b"Motion-JPEG"), (YUYV, b"YUYV 4:2:2")]
        self.sizes = {MJPG: [(1280, 720), (640, 480)]}
        self.intervals = {(1280, 720): [(1, 30), (1, 15)], (640, 480): [(1, 30)]}

    def __call__(self, fd: int, request: int, buf: bytearray) -> int:
        if request == VIDIOC_QUERYCAP:
            assert len(buf) == 104
            device_caps = 0x04000001 if self.capture else 0x00800000  # (streaming +) capture, or metadata
            struct.pack_into("<2I", buf, 84, 0x80000000 | 0x04000001, device_caps)
        elif request == VIDIOC_ENUM_FMT:
            assert len(buf) == 64
            self._fmt(buf)
        elif request == VIDIOC_ENUM_FRAMESIZES:
            assert len(buf) == 44
            self._size(buf)
        elif request == VIDIOC_ENUM_FRAMEINTERVALS:
            assert len(buf) == 52
            self._interval(buf)
        return 0

    def _fmt(self, buf: bytearray) -> None:
        index, kind = struct.unpack_from("<2I", buf)
        if kind != 1 or index >= len(self.formats):
            raise OSError(22, "Invalid argument")
        code, description = self.formats[index]
        struct.pack_into("<32sI", buf, 12, description, code)

    def _size(self, buf: bytearray) -> None:
        index, code = struct.unpack_from("<2I", buf)
        if code == YUYV and index == 0:
            struct.pack_into("<7I", buf, 8, 3, 160, 1920, 16, 120, 1080, 8)
            return
        sizes = self.sizes.get(code, [])
        if index >= len(sizes):
            raise OSError(22, "Invalid argument")
        struct.pack_into("<3I", buf, 8, 1, *sizes[index])

    def _interval(self, buf: bytearray) -> None:
        index, _code, width, height = struct.unpack_from("<4I", buf)
        rates = self.intervals.get((width, height), [])
        if index >= len(rates):
            raise OSError(22, "Invalid argument")
        struct.pack_into("<3I", buf, 16, 1, *rates[index])


def test_formats_sizes_and_best_rates_are_enumerated() -> None:
    capture, formats = probe_fd(3, FakeDriver())
    assert capture
    assert [(f.fourcc, f.description, f.sizes) for f in formats] == [
        ("MJPG", "Motion-JPEG", ["1280x720@30", "640x480@30"]),
        ("YUYV", "YUYV 4:2:2", ["160x120..1920x1080"]),
    ]


def test_metadata_nodes_are_not_capture_devices() -> None:
    assert probe_fd(3, FakeDriver(capture=False)) == (False, [])


def test_an_endless_driver_cannot_hang_the_listing() -> None:
    def endless(fd: int, request: int, buf: bytearray) -> int:
        if request == VIDIOC_QUERYCAP:
            struct.pack_into("<2I", buf, 84, 1, 0)
        return 0

    _, formats = probe_fd(3, endless)
    assert len(formats) == 64


def test_nodes_are_found_in_sysfs_and_unopenable_ones_say_why(tmp_path: Path) -> None:
    for index, name in [(10, "Cam B"), (2, "Cam A")]:
        (tmp_path / "sys" / f"video{index}").mkdir(parents=True)
        (tmp_path / "sys" / f"video{index}" / "name").write_text(name + "\n")
    cameras = list_cameras(tmp_path / "sys", tmp_path / "dev")
    assert [(c.device, c.name) for c in cameras] == [
        (str(tmp_path / "dev" / "video2"), "Cam A"),
        (str(tmp_path / "dev" / "video10"), "Cam B"),
    ]
    assert all(c.error for c in cameras)


def test_json_output_lists_both_kinds(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(devices, "list_cameras", lambda: [])
    monkeypatch.setattr(devices, "_audio_inputs", lambda: ([{"index": 1, "name": "USB mic"}], None))
    assert devices.devices_command(as_json=True) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"cameras": [], "audio_inputs": [{"index": 1, "name": "USB mic"}], "audio_error": None}

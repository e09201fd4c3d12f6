"""`recorder devices`: the cameras (V4L2) and audio inputs on this machine, for filling in a room config."""

from __future__ import annotations

import fcntl
import json
import os
import struct
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from recorder.errors import DeviceError
from recorder.messages import _

SYSFS = Path("/sys/class/video4linux")
BY_ID = Path("/dev/v4l/by-id")

# ioctl numbers and struct layouts from <linux/videodev2.h> (same on every Linux architecture).
VIDIOC_QUERYCAP = 0x80685600  # struct v4l2_capability, 104 bytes
VIDIOC_ENUM_FMT = 0xC0405602  # struct v4l2_fmtdesc, 64 bytes
VIDIOC_ENUM_FRAMESIZES = 0xC02C564A  # struct v4l2_frmsizeenum, 44 bytes
VIDIOC_ENUM_FRAMEINTERVALS = 0xC034564B  # struct v4l2_frmivalenum, 52 bytes
V4L2_CAP_VIDEO_CAPTURE = 0x00000001
V4L2_CAP_DEVICE_CAPS = 0x80000000
V4L2_BUF_TYPE_VIDEO_CAPTURE = 1
V4L2_FRMSIZE_TYPE_DISCRETE = 1
V4L2_FRMIVAL_TYPE_DISCRETE = 1
_MAX_ENTRIES = 64  # a driver that never ends an enumeration must not hang the listing

Ioctl = Callable[[int, int, bytearray], object]
"""`ioctl(fd, request, buffer)`, filling `buffer` in place; raises OSError when an index is past the end."""


@dataclass
class CameraFormat:
    fourcc: str
    description: str
    sizes: list[str] = field(default_factory=list)  # "1280x720@30" (highest rate), or a range


@dataclass
class Camera:
    device: str
    name: str
    stable_paths: list[str]
    capture: bool
    formats: list[CameraFormat]
    error: str | None = None


JPEG_FOURCCS = frozenset({"MJPG", "JPEG"})
"""Formats whose frames are JPEG already: the camera source stores them without re-encoding."""


def fourcc_text(code: int) -> str:
    """A V4L2/FFmpeg four-character code as text, e.g. 0x47504A4D -> "MJPG"."""
    return struct.pack("<I", code & 0xFFFFFFFF).decode("ascii", "replace").strip("\x00 ")


def _enumerate(ioctl: Ioctl, fd: int, request: int, pack: Callable[[int], bytes]) -> list[bytearray]:
    """Call an enumerating ioctl with index 0, 1, … until the driver says EINVAL (or the cap)."""
    results = []
    for index in range(_MAX_ENTRIES):
        buf = bytearray(pack(index))
        try:
            ioctl(fd, request, buf)
        except OSError:
            break
        results.append(buf)
    return results


def _max_fps(ioctl: Ioctl, fd: int, fourcc: int, width: int, height: int) -> float | None:
    rates = []
    for buf in _enumerate(
        ioctl, fd, VIDIOC_ENUM_FRAMEINTERVALS, lambda i: struct.pack("<5I32x", i, fourcc, width, height, 0)
    ):
        kind, numerator, denominator = struct.unpack_from("<3I", buf, 16)
        if kind == V4L2_FRMIVAL_TYPE_DISCRETE and numerator:
            rates.append(denominator / numerator)
    return max(rates, default=None)


def _sizes(ioctl: Ioctl, fd: int, fourcc: int) -> list[str]:
    sizes = []
    for buf in _enumerate(ioctl, fd, VIDIOC_ENUM_FRAMESIZES, lambda i: struct.pack("<3I32x", i, fourcc, 0)):
        kind = struct.unpack_from("<I", buf, 8)[0]
        if kind == V4L2_FRMSIZE_TYPE_DISCRETE:
            width, height = struct.unpack_from("<2I", buf, 12)
            fps = _max_fps(ioctl, fd, fourcc, width, height)
            sizes.append(f"{width}x{height}" + (f"@{fps:g}" if fps else ""))
        else:
            min_w, max_w, _step_w, min_h, max_h, _step_h = struct.unpack_from("<6I", buf, 12)
            sizes.append(f"{min_w}x{min_h}..{max_w}x{max_h}")
    return sizes


def probe_fd(fd: int, ioctl: Ioctl = fcntl.ioctl) -> tuple[bool, list[CameraFormat]]:
    """(can capture video, its formats) of an open V4L2 node. Raises OSError if it is not V4L2."""
    cap = bytearray(104)
    ioctl(fd, VIDIOC_QUERYCAP, cap)
    capabilities, device_caps = struct.unpack_from("<2I", cap, 84)
    caps = device_caps if capabilities & V4L2_CAP_DEVICE_CAPS else capabilities
    if not caps & V4L2_CAP_VIDEO_CAPTURE:
        return False, []
    formats = []
    for buf in _enumerate(
        ioctl,
        fd,
        VIDIOC_ENUM_FMT,
        lambda i: struct.pack("<3I32s2I12x", i, V4L2_BUF_TYPE_VIDEO_CAPTURE, 0, b"", 0, 0),
    ):
        description = buf[12:44].split(b"\0", 1)[0].decode("utf-8", "replace")
        code = struct.unpack_from("<I", buf, 44)[0]
        formats.append(CameraFormat(fourcc_text(code), description, _sizes(ioctl, fd, code)))
    return True, formats


def _stable_paths(node: Path) -> list[str]:
    if not BY_ID.is_dir():
        return []
    return sorted(str(link) for link in BY_ID.iterdir() if link.resolve() == node.resolve())


def list_cameras(sysfs: Path = SYSFS, dev: Path = Path("/dev")) -> list[Camera]:
    """Every V4L2 video node, with its name and, where it can be opened, its capture formats."""
    cameras = []
    nodes = sorted(sysfs.glob("video*"), key=lambda p: int(p.name[5:]) if p.name[5:].isdigit() else 0)
    for entry in nodes:
        node = dev / entry.name
        name = (entry / "name").read_text().strip() if (entry / "name").is_file() else "?"
        camera = Camera(str(node), name, _stable_paths(node), capture=False, formats=[])
        try:
            fd = os.open(node, os.O_RDWR | os.O_NONBLOCK)
            try:
                camera.capture, camera.formats = probe_fd(fd)
            finally:
                os.close(fd)
        except OSError as error:
            camera.error = error.strerror or str(error)
        cameras.append(camera)
    return cameras


def _audio_inputs() -> tuple[list[dict[str, Any]], str | None]:
    from recorder.sources.microphone import list_inputs

    try:
        return list_inputs(), None
    except DeviceError as error:
        return [], str(error)


def _print_table(cameras: list[Camera], inputs: list[dict[str, Any]], audio_error: str | None) -> None:
    print(_('Cameras (video.source = "camera", video.device = the node, or better a stable path)'))
    for cam in cameras:
        print(
            f"  {cam.device}  {cam.name}"
            + ("" if cam.capture or cam.error else "  " + _("(not a capture node)"))
        )
        for path in cam.stable_paths:
            print("      " + _("stable path: {path}").format(path=path))
        if cam.error:
            print("      " + _("cannot open: {error}").format(error=cam.error))
        for fmt in cam.formats:
            passthrough = (
                "  <- " + _("JPEG: stored without re-encoding") if fmt.fourcc in JPEG_FOURCCS else ""
            )
            print(f"      {fmt.fourcc} ({fmt.description}){passthrough}: {', '.join(fmt.sizes) or '?'}")
    if not cameras:
        print("  " + _("none (no /dev/video* on this machine)"))
    print(
        "  "
        + _("Network cameras (http://…/mjpg, rtsp://…) and video files are not listed: use the URL or path.")
    )
    print()
    print(_('Audio inputs (audio.source = "microphone", audio.device = the name or index; "" = default)'))
    for item in inputs:
        mark = "  " + _("(default)") if item["default"] else ""
        print(
            "  "
            + _("[{index}] {name}  {api}, {channels} ch, {rate:g} Hz").format(
                index=item["index"],
                name=item["name"],
                api=item["host_api"],
                channels=item["channels"],
                rate=item["default_samplerate"],
            )
            + mark
        )
    if not inputs:
        print("  " + _("none") + (f" ({audio_error})" if audio_error else ""))


def devices_command(as_json: bool) -> int:
    """`recorder devices [--json]`: print cameras and audio inputs. Returns the exit code (always 0:
    an empty or partly unreadable list is an answer, not an error)."""
    cameras = list_cameras()
    inputs, audio_error = _audio_inputs()
    if as_json:
        print(
            json.dumps(
                {"cameras": [asdict(c) for c in cameras], "audio_inputs": inputs, "audio_error": audio_error},
                indent=2,
            )
        )
    else:
        _print_table(cameras, inputs, audio_error)
    return 0

"""Benchmark: CPU per room for an HTTP MJPEG camera, pass-through vs decode + re-encode vs ffmpeg readers.

Usage (from the repository root): .venv/bin/python -m bench.bench_camera_cpu [--seconds 30]
[--size 1280x720] [--fps 15]

One run starts, side by side on 127.0.0.1, one ffmpeg HTTP MJPEG server per reader (each copying a
pre-encoded camera-like clip, so the servers cost almost nothing) and four readers of identical
streams: our camera source with JPEG pass-through, our camera source decoding and re-encoding
(quality 80), `ffmpeg -c copy` (demux only), `ffmpeg` decoding to null, and a whole `recorder run`
daemon for one room (camera with pass-through into the encrypted ring, no audio, idle). CPU is read from
/proc/<pid>/stat over the same window after a warm-up, and reported as % of one core.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
WARMUP_S = 3.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def make_clip(path: Path, size: str, fps: int) -> None:
    """10 s of camera-like MJPEG (a moving test picture with sensor-like noise, ~60-80 KB a frame)."""
    subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={size}:rate={fps},noise=alls=6:allf=t",
            "-t",
            "10",
            "-c:v",
            "mjpeg",
            "-q:v",
            "4",
            str(path),
        ],
        check=True,
    )


def serve(clip: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-re",
            "-stream_loop",
            "-1",
            "-i",
            str(clip),
            "-c",
            "copy",
            "-f",
            "mpjpeg",
            "-listen",
            "1",
            f"http://127.0.0.1:{port}/cam.mjpg",
        ],
        stdin=subprocess.DEVNULL,
    )


def child(mode: str, url: str, seconds: float, size: str, fps: float) -> None:
    """Run our camera source alone in this process and print the frames it delivered."""
    from recorder.clock import SystemClock
    from recorder.config import VideoConfig
    from recorder.sources.camera import CameraSource

    width, height = (int(v) for v in size.split("x"))
    frames = [0]
    config = VideoConfig.model_validate(
        {
            "source": "camera",
            "device": url,
            "width": width,
            "height": height,
            "fps": fps,
            "passthrough": mode == "passthrough",
        }
    )
    camera = CameraSource(config, SystemClock())
    camera.start(lambda _packet: frames.__setitem__(0, frames[0] + 1))
    time.sleep(seconds)
    camera.stop()
    print(json.dumps({"frames": frames[0], "passthrough": camera.passthrough_active}), flush=True)


Procs = dict[str, subprocess.Popen[bytes]]


def daemon(root: Path, url: str, size: str, fps: float) -> subprocess.Popen[bytes]:
    """A whole `recorder run` for one room: camera (pass-through) into the encrypted ring, no audio."""
    from recorder.demo import set_up_room

    room = set_up_room(root)
    width, height = size.split("x")
    text = room.config.read_text()
    media = (
        f'[video]\nsource = "camera"\ndevice = "{url}"\nwidth = {width}\nheight = {height}\n'
        f'fps = {fps}\n\n[audio]\nsource = "none"\n\n'
    )
    room.config.write_text(text[: text.index("[video]")] + media + text[text.index("[recording]") :])
    with (root / "daemon.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "recorder", "run", "--config", str(room.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def readers(url_for: dict[str, str], seconds: float, size: str, fps: float) -> Procs:
    me = [sys.executable, "-m", "bench.bench_camera_cpu"]
    common = ["--seconds", str(seconds), "--size", size, "--fps", str(fps)]
    ffmpeg = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-i"]
    return {
        "recorder pass-through": subprocess.Popen(
            [*me, "--child", "passthrough", url_for["a"], *common], stdout=subprocess.PIPE
        ),
        "recorder decode+re-encode": subprocess.Popen(
            [*me, "--child", "reencode", url_for["b"], *common], stdout=subprocess.PIPE
        ),
        "ffmpeg -c copy (demux only)": subprocess.Popen(
            [*ffmpeg, url_for["c"], "-c", "copy", "-f", "null", "-"], stdin=subprocess.DEVNULL
        ),
        "ffmpeg decode to null": subprocess.Popen(
            [*ffmpeg, url_for["d"], "-f", "null", "-"], stdin=subprocess.DEVNULL
        ),
    }


def measure(procs: Procs, seconds: float) -> dict[str, float]:
    time.sleep(WARMUP_S)
    start = {name: cpu_seconds(p.pid) for name, p in procs.items()}
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    return {name: 100 * (cpu_seconds(p.pid) - start[name]) / elapsed for name, p in procs.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window (after a 3 s warm-up)")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.seconds + WARMUP_S + 1, args.size, args.fps)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "camera.mkv"
        make_clip(clip, args.size, int(args.fps))
        ports = {key: free_port() for key in "abcde"}
        servers = [serve(clip, port) for port in ports.values()]
        time.sleep(0.5)
        urls = {k: f"http://127.0.0.1:{p}/cam.mjpg" for k, p in ports.items()}
        procs = readers(urls, args.seconds, args.size, args.fps)
        procs["recorder daemon (pass-through)"] = daemon(Path(tmp) / "room", urls["e"], args.size, args.fps)
        try:
            usage = measure(procs, args.seconds)
        finally:
            results = _finish(procs, servers)
        results["recorder daemon (pass-through)"] = _daemon_rate(Path(tmp) / "room" / "daemon.log")
    _report(usage, results, args)
    return 0


def _finish(procs: Procs, servers: list[subprocess.Popen[bytes]]) -> dict[str, str]:
    results = {}
    for name, proc in procs.items():
        if proc.stdout is not None:
            results[name] = proc.stdout.read().decode().strip().splitlines()[-1]
            proc.wait(timeout=30)
        else:
            proc.terminate()
            proc.wait(timeout=30)
    for server in servers:
        server.kill()
        server.wait()
    return results


def _daemon_rate(log: Path) -> str:
    for line in log.read_text().splitlines():
        if '"camera_rate_measured"' in line:
            return json.dumps({"delivered_fps": json.loads(line)["delivered_fps"]})
    return "(the daemon never measured its camera: check its log)"


def _report(usage: dict[str, float], results: dict[str, str], args: argparse.Namespace) -> None:
    print(
        f"HTTP MJPEG camera {args.size}@{args.fps:g}, {args.seconds:g} s measured, "
        f"{os.cpu_count()} CPUs, CPU in % of one core:"
    )
    reference = usage["ffmpeg decode to null"]
    for name, percent in usage.items():
        extra = f"  {results[name]}" if name in results else ""
        print(f"  {name:30s} {percent:6.1f} %   ({percent / reference:4.2f}x ffmpeg decode){extra}")
    print(
        f"  pass-through saves {usage['recorder decode+re-encode'] / usage['recorder pass-through']:.1f}x "
        f"the CPU of decode + re-encode"
    )
    print(
        f"command: .venv/bin/python -m bench.bench_camera_cpu --seconds {args.seconds:g} "
        f"--size {args.size} --fps {args.fps:g}"
    )


if __name__ == "__main__":
    sys.exit(main())

"""Camera CPU per room: JPEG pass-through vs decode + re-encode vs ffmpeg, on the same HTTP MJPEG stream."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from bench.camera_farm import CameraFarm, make_clip
from bench.figures import Context, Figure, Section
from bench.procfs import cpu_window
from bench.rooms import FPS, HEIGHT, WIDTH, camera_section, spawn, wait_ready
from recorder.demo import free_tcp_port

WARMUP_S = 3.0
QUICK_WARMUP_S = 1.0
READERS = {
    "passthrough": "our camera source, JPEG pass-through",
    "reencode": "our camera source, decode + re-encode (q80)",
    "ffmpeg_copy": "`ffmpeg -c copy` of the stream",
    "ffmpeg_decode": "`ffmpeg` decoding the stream to null",
}


def child(mode: str, url: str, seconds: float) -> None:
    """Our camera source alone in this process; prints the frames it delivered."""
    from recorder.clock import SystemClock
    from recorder.config import VideoConfig
    from recorder.sources.camera import CameraSource

    frames = [0]
    config = VideoConfig.model_validate(
        {"source": "camera", "device": url, "width": WIDTH, "height": HEIGHT, "fps": FPS,
         "passthrough": mode == "passthrough"}
    )  # fmt: skip
    camera = CameraSource(config, SystemClock())
    camera.start(lambda _packet: frames.__setitem__(0, frames[0] + 1))
    time.sleep(seconds)
    camera.stop()
    print(json.dumps({"frames": frames[0], "passthrough": camera.passthrough_active}), flush=True)


def _readers(farm: CameraFarm, ports: list[int], lifetime_s: float) -> dict[str, subprocess.Popen[bytes]]:
    me = [sys.executable, "-m", "bench.bench_passthrough", "--seconds", str(lifetime_s)]
    ffmpeg = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-i"]
    urls = [farm.url(port) for port in ports]
    return {
        "passthrough": subprocess.Popen([*me, "--child", "passthrough", urls[0]], stdout=subprocess.PIPE),
        "reencode": subprocess.Popen([*me, "--child", "reencode", urls[1]], stdout=subprocess.PIPE),
        "ffmpeg_copy": subprocess.Popen(
            [*ffmpeg, urls[2], "-c", "copy", "-f", "null", "-"], stdin=subprocess.DEVNULL
        ),
        "ffmpeg_decode": subprocess.Popen([*ffmpeg, urls[3], "-f", "null", "-"], stdin=subprocess.DEVNULL),
    }


def measure(ctx: Context) -> Section:
    window_s, warmup_s = (2.0, QUICK_WARMUP_S) if ctx.quick else (20.0, WARMUP_S)
    lifetime_s = warmup_s + 1 + ctx.runs * (window_s + 0.5)
    work = ctx.work / "passthrough"
    work.mkdir()
    ports = [free_tcp_port() for _ in range(5)]
    farm = CameraFarm(make_clip(ctx.work / "camera.mkv"), ports, FPS)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        daemon = spawn(work / "room", camera_section(farm.url(ports[4])), pre_roll_s=30.0, audio=False)
        wait_ready([daemon])
        procs = _readers(farm, ports, lifetime_s)
        time.sleep(warmup_s)
        pids = {name: p.pid for name, p in procs.items()} | {"daemon": daemon.process.pid}
        runs: dict[str, list[float]] = {name: [] for name in pids}
        for i in range(ctx.runs):
            ctx.log(f"passthrough: window {i + 1}/{ctx.runs} ({window_s:g} s)")
            window = cpu_window(list(pids.values()), window_s)
            for name, pid in pids.items():
                runs[name].append(window.percent[pid])
        delivered = {name: json.loads(p.communicate(timeout=60)[0].decode().splitlines()[-1])
                     for name, p in procs.items() if p.stdout is not None}  # fmt: skip
        daemon.stop()
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()
        farm.stop()
    return _section(runs, delivered, window_s)


def _section(runs: dict[str, list[float]], delivered: dict[str, dict[str, int]], window_s: float) -> Section:
    section = Section(
        "passthrough",
        "Camera CPU per room: JPEG pass-through against decoding and re-encoding",
        f"Five HTTP MJPEG cameras (1280×720@15, ~60 KB frames, served by one process on 127.0.0.1) read "
        f"side by side; CPU from /proc/<pid>/stat over {window_s:g} s windows after a warm-up, in % of "
        "one core. The daemon row is a whole `recorder run` (camera with pass-through into the "
        "encrypted ring, no audio, idle, ring full after 30 s).",
    )
    section.add(Figure("ffmpeg_decode", READERS["ffmpeg_decode"], "% of a core", runs["ffmpeg_decode"]))
    section.add(
        Figure("ffmpeg_copy", READERS["ffmpeg_copy"], "% of a core", runs["ffmpeg_copy"], "ffmpeg_decode")
    )
    section.add(Figure("reencode", READERS["reencode"], "% of a core", runs["reencode"], "ffmpeg_decode"))
    section.add(Figure("passthrough", READERS["passthrough"], "% of a core", runs["passthrough"], "reencode"))
    section.add(
        Figure("daemon", "whole daemon, pass-through camera", "% of a core", runs["daemon"], "passthrough")
    )
    for name, result in delivered.items():
        section.notes.append(
            f"{READERS[name]}: {result['frames']} frames delivered, pass-through {result['passthrough']}"
        )
    return section


def main() -> int:
    parser = argparse.ArgumentParser(description="(internal) one camera reader for bench_passthrough")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "URL"), required=True)
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args()
    child(args.child[0], args.child[1], args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())

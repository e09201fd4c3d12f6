"""Many IP cameras in one process: HTTP MJPEG streams on 127.0.0.1, camera-sized JPEGs, paced in real time.

Run as its own process (`CameraFarm` starts it) so that what the cameras cost is never counted as
the daemons' CPU. Every stream serves the same pre-encoded frames (a noisy 1280x720 test picture,
~60 KB a frame, like a real camera's sensor noise), each starting at another frame. One asyncio
loop serves every connection: the cameras' own cost stays a few % of a core for 64 streams.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import av

BOUNDARY = b"frame"


def make_clip(path: Path, size: str = "1280x720", fps: int = 15, seconds: int = 10) -> Path:
    """Camera-like MJPEG: ffmpeg's testsrc2 with temporal noise, q:v 5 (~60 KB a 720p frame)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        source = f"testsrc2=size={size}:rate={fps},noise=alls=6:allf=t"
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source,
             "-t", str(seconds), "-c:v", "mjpeg", "-q:v", "5", str(path)],
            check=True,
        )  # fmt: skip
    return path


def clip_frames(path: Path) -> list[bytes]:
    """The JPEG of every frame of an MJPEG clip, as stored (no decoding)."""
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(video=0) if p.size]


async def _serve(
    frames: list[bytes], fps: float, offset: int, sent: list[int], writer: asyncio.StreamWriter
) -> None:
    writer.write(
        b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary=" + BOUNDARY + b"\r\n\r\n"
    )
    start, n = time.monotonic(), 0
    try:
        while True:
            delay = start + n / fps - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            jpeg = frames[(offset + n) % len(frames)]
            head = b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % (BOUNDARY, len(jpeg))
            writer.write(head + jpeg + b"\r\n")
            await writer.drain()
            sent[0] += 1
            n += 1
    except (ConnectionError, OSError, asyncio.CancelledError):
        pass  # the reader went away, or the farm stops
    finally:
        writer.close()


async def _farm(ports: list[int], frames: list[bytes], fps: float) -> dict[int, int]:
    sent = {port: [0] for port in ports}

    def handler(
        port: int, index: int
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await reader.readuntil(b"\r\n\r\n")  # the request; its content does not matter
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.CancelledError):
                writer.close()
                return
            await _serve(frames, fps, index * 7, sent[port], writer)

        return handle

    servers = [
        await asyncio.start_server(handler(port, i), "127.0.0.1", port) for i, port in enumerate(ports)
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("ready", flush=True)
    await stop.wait()
    for server in servers:
        server.close()
    streams = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in streams:
        task.cancel()
    await asyncio.gather(*streams, return_exceptions=True)
    return {port: count[0] for port, count in sent.items()}


class CameraFarm:
    """The farm as a child process serving `ports`; `stop()` returns the frames sent per port."""

    def __init__(self, clip: Path, ports: list[int], fps: float = 15.0) -> None:
        self.ports = ports
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.camera_farm", str(clip), "--fps", str(fps),
             "--ports", ",".join(map(str, ports))],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != b"ready":
            self.process.kill()
            raise RuntimeError("the camera farm did not start")

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}/cam.mjpg"

    def stop(self) -> dict[int, int]:
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=30)
        return {int(k): v for k, v in json.loads(out.decode().strip().splitlines()[-1]).items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path, help="an MJPEG clip (see make_clip)")
    parser.add_argument("--ports", required=True, help="comma-separated TCP ports on 127.0.0.1")
    parser.add_argument("--fps", type=float, default=15.0)
    args = parser.parse_args()
    ports = [int(p) for p in args.ports.split(",")]
    sent = asyncio.run(_farm(ports, clip_frames(args.clip), args.fps))
    print(json.dumps(sent), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Real media servers for the device tests: PulseAudio, HTTP MJPEG cameras (ffmpeg and our own), RTSP."""

from __future__ import annotations

import array
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from recorder.clock import NS_PER_S
from recorder.demo import free_tcp_port
from recorder.packet import Packet
from recorder.sources.test_pattern import TestPatternConfig, encode_jpeg, has_sync_marker, render_frame
from recorder.sources.test_tone import TestToneConfig, find_sync_onsets, render_block

free_port = free_tcp_port  # one registry of handed-out ports per process (recorder/demo.py)


def _wait_until(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


class PulseAudio:
    """A private PulseAudio server (as root, no desktop) whose HOME, runtime and state live under `root`.

    `sine_hz` loads module-sine-source (PulseAudio renders it in 2 s blocks, ahead of time);
    `fifo` loads module-pipe-source reading s16le mono 48 kHz from that FIFO instead (real time as
    long as someone writes in real time). Only the chosen source exists, so it is the default.
    """

    def __init__(self, root: Path, *, sine_hz: int | None = 440, fifo: Path | None = None) -> None:
        self.root = root
        self.sine_hz = sine_hz
        self.fifo = fifo
        self.env = {
            "HOME": str(root / "home"),
            "XDG_RUNTIME_DIR": str(root / "xdg"),
            "PULSE_RUNTIME_PATH": str(root / "xdg" / "pulse"),
            "PULSE_STATE_PATH": str(root / "pulse-state"),
        }
        for key in ("HOME", "XDG_RUNTIME_DIR"):
            Path(self.env[key]).mkdir(mode=0o700, parents=True, exist_ok=True)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args),
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=20,
            check=check,
        )

    def _source_module(self) -> str:
        if self.fifo is not None:
            return f"module-pipe-source source_name=fifo file={self.fifo} format=s16le rate=48000 channels=1"
        return f"module-sine-source source_name=sine rate=48000 frequency={self.sine_hz}"

    def start(self) -> None:
        """Raises RuntimeError if the server does not come up."""
        self._run(
            "pulseaudio",
            "-D",
            "-n",
            "--exit-idle-time=-1",
            "--disallow-exit",
            "--load=module-native-protocol-unix",
            f"--load={self._source_module()}",
            f"--log-target=file:{self.root / 'pulseaudio.log'}",
        )
        _wait_until(self.running, 10, "PulseAudio to answer")

    def running(self) -> bool:
        return self._run("pactl", "info", check=False).returncode == 0

    def pid(self) -> int | None:
        with suppress(OSError, ValueError, IndexError):  # absent, or being written or removed
            return int((Path(self.env["PULSE_RUNTIME_PATH"]) / "pid").read_text().split()[0])
        return None

    def kill(self) -> None:
        """SIGKILL the server (as if the sound card vanished) and wait until it is gone."""
        pid = self.pid()
        if pid is not None:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_until(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), 10, "PulseAudio to die")
            # Until init reaps the zombie, its pid file would make a restart say "already running".
            (Path(self.env["PULSE_RUNTIME_PATH"]) / "pid").unlink(missing_ok=True)

    def stop(self) -> None:
        if self.running():
            self._run("pulseaudio", "-k", check=False)
        self.kill()


def _zombie(pid: int) -> bool:
    with suppress(OSError):
        return " Z " in Path(f"/proc/{pid}/stat").read_text()
    return True


@contextmanager
def ffmpeg_mjpeg_server(
    port: int, size: str = "1280x720", rate: int = 15
) -> Iterator[subprocess.Popen[bytes]]:
    """ffmpeg serving HTTP MJPEG on 127.0.0.1 (`-listen 1`: one client; it exits when that one leaves)."""
    process = subprocess.Popen(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            f"testsrc=size={size}:rate={rate}",
            "-c:v",
            "mjpeg",
            "-q:v",
            "5",
            "-f",
            "mpjpeg",
            "-listen",
            "1",
            f"http://127.0.0.1:{port}/cam.mjpg",
        ],
        stdin=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.kill()
        process.wait()


class MarkerClock:
    """The shared schedule of a marker source: frame n at t0 + n/fps, audio sample k at t0 + k/48000."""

    def __init__(self, t0_ns: int | None = None) -> None:
        self.t0_ns = time.monotonic_ns() if t0_ns is None else t0_ns


class MjpegServer:
    """Our own HTTP MJPEG camera on 127.0.0.1: test-pattern frames (frame number + A/V sync marker),
    paced in real time, each sent with a Content-Length. Remembers every JPEG it served.

    Threads: the accept thread and one thread per client; `served` is guarded by `_lock`.
    """

    def __init__(
        self, port: int, clock: MarkerClock, config: TestPatternConfig | None = None, *, remember: bool = True
    ) -> None:
        self.port = port
        self.remember = remember
        self.config = config or TestPatternConfig(width=640, height=360, fps=15, jpeg_quality=80)
        self._clock = clock
        self._lock = threading.Lock()
        self.served: dict[bytes, int] = {}
        self._cache: dict[int, bytes] = {}
        self._stop = threading.Event()
        self.paused = threading.Event()  # set: keep connections open but send nothing (a hung camera)
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cam.mjpg"

    def start(self) -> None:
        self._stop.clear()
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        listener.settimeout(0.1)
        self._listener = listener
        self._spawn(self._accept)

    def stop(self) -> None:
        """Close the listener and every client connection (the camera 'is unplugged'), and join."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._threads = []
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self._spawn(self._serve, conn)

    def frame(self, n: int) -> bytes:
        with self._lock:
            cached = self._cache.get(n)
        if cached is None:
            elapsed = round(n * NS_PER_S / self.config.fps)
            cached = encode_jpeg(render_frame(self.config, n, elapsed), self.config.jpeg_quality)
            with self._lock:
                self._cache = {n: cached}
        return cached

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)  # the request; its content does not matter
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary=frame\r\n\r\n")
            fps = self.config.fps
            n = max(0, (time.monotonic_ns() - self._clock.t0_ns) * int(fps) // NS_PER_S + 1)
            while not self._stop.is_set():
                due = self._clock.t0_ns + round(n * NS_PER_S / fps)
                delay = (due - time.monotonic_ns()) / NS_PER_S
                if delay > 0 and self._stop.wait(delay):
                    return
                if self.paused.is_set():
                    n += 1
                    continue
                jpeg = self.frame(n)
                head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                try:
                    conn.sendall(head + jpeg + b"\r\n")
                except OSError:
                    return
                if self.remember:
                    with self._lock:
                        self.served[jpeg] = n
                n += 1


class FifoTone:
    """Writes the test tone (440 Hz, 1 kHz burst in the first 50 ms of every second since t0) into a
    PulseAudio pipe source in real time, 10 ms at a time. Blocks are skipped while more than 20 ms
    wait in the FIFO, so the FIFO never adds more than that to the latency."""

    BLOCK = 480

    def __init__(self, fifo: Path, clock: MarkerClock) -> None:
        self._fifo = fifo
        self._clock = clock
        self._config = TestToneConfig(block_samples=self.BLOCK)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.skipped = 0

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        fd = os.open(self._fifo, os.O_WRONLY | os.O_NONBLOCK)
        try:
            k = max(0, (time.monotonic_ns() - self._clock.t0_ns) * 48_000 // NS_PER_S // self.BLOCK)
            while not self._stop.is_set():
                due = self._clock.t0_ns + (k + 1) * self.BLOCK * NS_PER_S // 48_000
                delay = (due - time.monotonic_ns()) / NS_PER_S
                if delay > 0 and self._stop.wait(delay):
                    return
                if _fifo_backlog(fd) > 2 * self.BLOCK * 2:
                    self.skipped += 1
                else:
                    with suppress(BlockingIOError):
                        os.write(fd, render_block(self._config, k).tobytes())
                k += 1
        finally:
            os.close(fd)


def _fifo_backlog(fd: int) -> int:
    buf = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, buf)
    return buf[0]


RTSP_SERVER = """
import sys, gi
gi.require_version("Gst", "1.0"); gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer, GLib
Gst.init(None)
port, codec = sys.argv[1], sys.argv[2]
enc = {"h264": "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! rtph264pay name=pay0 pt=96",
       "jpeg": "jpegenc quality=80 ! rtpjpegpay name=pay0 pt=26"}[codec]
server = GstRtspServer.RTSPServer(); server.set_address("127.0.0.1"); server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory(); factory.set_shared(True)
factory.set_launch("( videotestsrc is-live=true ! video/x-raw,format=I420,width=640,height=360,"
                   "framerate=15/1 ! " + enc + " )")
server.get_mount_points().add_factory("/cam", factory); server.attach(None)
print("ready", flush=True)
GLib.MainLoop().run()
"""

DEBIAN_PYTHON = "/usr/bin/python3"


def rtsp_available() -> bool:
    """True if Debian's python3 has GStreamer's RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0)."""
    if not shutil.which(DEBIAN_PYTHON):
        return False
    probe = (
        'import gi; gi.require_version("Gst", "1.0"); gi.require_version("GstRtspServer", "1.0"); '
        "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
        'assert all(Gst.ElementFactory.find(e) for e in ("x264enc", "jpegenc", "rtpjpegpay"))'
    )
    return subprocess.run([DEBIAN_PYTHON, "-c", probe], capture_output=True, timeout=20).returncode == 0


@contextmanager
def rtsp_server(root: Path, port: int, codec: str) -> Iterator[str]:
    """A GStreamer RTSP server on 127.0.0.1 (`codec` 'h264' or 'jpeg'); yields its URL."""
    script = root / "rtsp_server.py"
    script.write_text(RTSP_SERVER)
    process = subprocess.Popen(
        [DEBIAN_PYTHON, str(script), str(port), codec], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != b"ready":
            raise RuntimeError("RTSP server did not start")
        yield f"rtsp://127.0.0.1:{port}/cam"
    finally:
        process.kill()
        process.wait()


def configure_media(config: Path, video: str, audio: str, recording: str = "") -> None:
    """Replace a demo room config's [video] and [audio] sections (and add [recording] keys)."""
    text = config.read_text()
    start, end = text.index("[video]"), text.index("[recording]")
    head = text[:start] + f"[video]\n{video.strip()}\n\n[audio]\n{audio.strip()}\n\n"
    extra = f"{recording.strip()}\n" if recording else ""
    rest = text[end:].replace("[recording]\n", f"[recording]\n{extra}", 1)
    config.write_text(head + rest)


@dataclass
class Demuxed:
    """An incident's packets: video (pts ms, JPEG bytes) and audio (pts ms, s16 samples)."""

    video: list[tuple[int, bytes]]
    audio: list[tuple[int, npt.NDArray[np.int16]]]

    def pcm(self) -> npt.NDArray[np.int16]:
        return np.concatenate([samples for _, samples in self.audio]) if self.audio else np.zeros(0, np.int16)


def decrypt_incident(state_dir: Path, incident: str, identity: Path, out: Path) -> Path:
    """Decrypt with the stock `age` tool (proves the file is a standard, complete age file)."""
    mkv = out / f"{incident}.mkv"
    subprocess.run(
        ["age", "-d", "-i", str(identity), "-o", str(mkv), str(state_dir / f"{incident}.age")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return mkv


def demux(mkv: Path) -> Demuxed:
    result = Demuxed([], [])
    with av.open(str(mkv)) as container:
        for packet in container.demux():
            if packet.size == 0 or packet.pts is None:
                continue
            pts_ms = round(float(packet.pts * packet.time_base) * 1000)
            if packet.stream.type == "video":
                result.video.append((pts_ms, bytes(packet)))
            else:
                result.audio.append((pts_ms, np.frombuffer(bytes(packet), dtype="<i2")))
    return result


def peak_hz(pcm: npt.NDArray[np.int16], rate: int = 48_000) -> float:
    """Frequency of the strongest FFT bin of a Hann-windowed signal (resolution rate / len)."""
    x = pcm.astype(np.float64) * np.hanning(pcm.size)
    spectrum = np.abs(np.fft.rfft(x))
    return float(np.argmax(spectrum) * rate / pcm.size)


class Collector:
    """A packet sink and status sink for driving one source directly; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.packets: list[Packet] = []
        self.statuses: list[tuple[float, bool, str]] = []
        self.losses: list[tuple[str, int]] = []  # (what, how many) a source reported lost

    def packet(self, packet: Packet) -> None:
        with self._lock:
            self.packets.append(packet)

    def status(self, _name: str, healthy: bool, detail: str, lost: int = 0) -> None:
        with self._lock:
            if lost:
                self.losses.append((detail, lost))
            else:
                self.statuses.append((time.monotonic(), healthy, detail))

    def count(self) -> int:
        with self._lock:
            return len(self.packets)

    def wait(self, predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Raises AssertionError on time-out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if predicate():
                    return
            time.sleep(0.02)
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def log_events(text: str) -> list[dict[str, object]]:
    """The daemon's JSON log lines."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def wait_for_log(read: Callable[[], str], event: str, count: int, timeout_s: float = 15) -> None:
    """Wait until `read()` holds `count` log lines of `event`. Raises AssertionError on time-out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sum(e.get("event") == event for e in log_events(read())) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} {event!r} log lines after {timeout_s} s")


def decoded_markers(path: Path) -> tuple[list[float], list[float]]:
    """Decode a media file (e.g. an exported MP4): (video frames showing the sync marker, audio
    marker onsets), both in ms on the file's time axis."""
    video: list[float] = []
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            if frame.time is not None and has_sync_marker(frame.to_ndarray(format="bgr24")):
                video.append(frame.time * 1000)
    parts: list[npt.NDArray[np.float64]] = []
    start_s: float | None = None
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        for sound in container.decode(stream):
            if start_s is None:
                start_s = sound.time or 0.0
            parts.append(np.asarray(sound.to_ndarray(), dtype=np.float64).reshape(-1, sound.samples)[0])
        rate = stream.rate
    onsets = find_sync_onsets(np.concatenate(parts), rate) if parts else []
    return video, [((start_s or 0.0) + onset) * 1000 for onset in onsets]

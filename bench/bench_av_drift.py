"""Benchmark: audio/video offset and drift over a long recording through a real camera and microphone.

Usage (from the repository root): .venv/bin/python -m bench.bench_av_drift [--seconds 600]
[--timestamps adc|arrival]

Starts a private PulseAudio server whose only source is a pipe, our HTTP MJPEG marker camera on
127.0.0.1 and a writer that feeds the test tone into the pipe on the same schedule (a white square
in the first frame of every second, a 1 kHz burst at the start of every second). A `recorder run`
daemon captures both through OpenCV and sounddevice, is triggered, records for --seconds and is
cleared. The incident is decrypted with the stock `age` and every second's video marker is paired
with the nearest audio onset: the offsets, their spread and their linear drift are printed, for the
incident's Matroska and for its MP4 export (H.264 + AAC, decoded).
It uses the integration tests' media servers (tests/integration/media_servers.py).
"""

from __future__ import annotations

import argparse
import bisect
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import Context, Figure, Section
from recorder.demo import set_up_room
from recorder.incident.export import export
from recorder.sources.test_pattern import TestPatternConfig, has_sync_marker
from recorder.sources.test_tone import find_sync_onsets
from tests.integration.media_servers import (
    FifoTone,
    MarkerClock,
    MjpegServer,
    PulseAudio,
    configure_media,
    decoded_markers,
    decrypt_incident,
    free_port,
    wait_for_log,
)
from tests.support import RunningDaemon, start_daemon, wait_for_state


def record(root: Path, seconds: float, timestamps: str) -> tuple[Path, dict[str, int]]:
    """Run the whole set-up and return the decrypted incident and a few counters."""
    pulse = PulseAudio(root / "pulse", sine_hz=None, fifo=root / "pulse" / "tone.fifo")
    pulse.start()
    clock = MarkerClock()
    assert pulse.fifo is not None
    tone = FifoTone(pulse.fifo, clock)
    camera = MjpegServer(free_port(), clock, TestPatternConfig(width=320, height=240, fps=15), remember=False)
    tone.start()
    camera.start()
    room = set_up_room(root / "room", pre_roll_s=2.0, post_roll_s=0.5)
    video = f'source = "camera"\ndevice = "{camera.url}"\nwidth = 320\nheight = 240'
    configure_media(
        room.config,
        video=video,
        audio=f'source = "microphone"\ntimestamps = "{timestamps}"',
        recording=f"max_incident_s = {seconds + 60}",
    )
    try:
        daemon = start_daemon(room, extra_env=pulse.env)
        try:
            incident = _trigger_and_wait(daemon, seconds)
        finally:
            daemon.stop()
    finally:
        camera.stop()
        tone.stop()
        pulse.stop()
    log = daemon.log_text()
    counters = {
        "fifo_blocks_skipped": tone.skipped,
        "audio_clock_resyncs": log.count('"audio_clock_resync"'),
        "audio_input_lost_lines": log.count('"audio_input_lost"'),
    }
    return decrypt_incident(daemon.state_dir, incident, room.officer_identity, root), counters


def _trigger_and_wait(daemon: RunningDaemon, seconds: float) -> str:
    wait_for_log(daemon.log_text, "source_up", 2, timeout_s=20)
    time.sleep(2.5)
    client = daemon.client()
    incident = str(client.trigger(reason="A/V drift benchmark")["incident"])
    started = time.monotonic()
    while (left := seconds - (time.monotonic() - started)) > 0:
        time.sleep(min(60.0, left))
        print(f"  recording: {time.monotonic() - started:6.0f} s of {seconds:g} s", flush=True)
    client.clear()
    wait_for_state(client, "idle", timeout_s=60)
    client.close()
    return incident


def mp4_offsets(mkv: Path) -> list[tuple[float, float]]:
    """The same pairs in the MP4 export of the incident, from decoded frames and decoded AAC."""
    mp4 = mkv.with_suffix(".mp4")
    export(mkv, mp4)
    video, audio = decoded_markers(mp4)
    first, last = audio[0] - 500, audio[-1] + 500
    return [(v / 1000, min(audio, key=lambda a: abs(a - v)) - v) for v in video if first <= v <= last]


def offsets(mkv: Path) -> list[tuple[float, float]]:
    """(video marker time s, audio onset minus video marker ms) for every marker inside the audio."""
    video: list[float] = []
    audio: list[tuple[float, np.ndarray]] = []
    with av.open(str(mkv)) as container:
        for packet in container.demux():
            if packet.size == 0 or packet.pts is None:
                continue
            pts_ms = float(packet.pts * packet.time_base) * 1000
            if packet.stream.type == "video":
                if has_sync_marker(bytes(packet)):
                    video.append(pts_ms)
            else:
                audio.append((pts_ms, np.frombuffer(bytes(packet), dtype="<i2")))
    starts = np.cumsum([0] + [pcm.size for _, pcm in audio])
    onsets = []
    for onset_s in find_sync_onsets(np.concatenate([pcm for _, pcm in audio])):
        sample = round(onset_s * 48_000)
        block = bisect.bisect_right(starts, sample) - 1
        onsets.append(audio[block][0] + (sample - starts[block]) / 48)
    first, last = audio[0][0] + 100, audio[-1][0] - 100
    return [(v / 1000, min(onsets, key=lambda a: abs(a - v)) - v) for v in video if first <= v <= last]


def report(pairs: list[tuple[float, float]], label: str) -> None:
    t = np.array([p[0] for p in pairs])
    o = np.array([p[1] for p in pairs])
    slope, intercept = np.polyfit(t, o, 1)
    span_s = t[-1] - t[0]
    print(f"{label}: A/V offset (audio marker minus video marker), {len(pairs)} markers over {span_s:.0f} s:")
    first, last = o[t < t[0] + 60].mean(), o[t > t[-1] - 60].mean()
    print(f"  first minute: mean {first:+.1f} ms; last minute: mean {last:+.1f} ms")
    print(
        f"  all: mean {o.mean():+.1f} ms, sd {o.std():.1f} ms, min {o.min():+.1f} ms, "
        f"max {o.max():+.1f} ms, max |offset| {np.abs(o).max():.1f} ms"
    )
    print(f"  linear drift: {slope * 600:+.2f} ms per 10 min (fit {intercept:+.1f} ms at t=0)")


def _stats(pairs: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(mean offset ms, its sd, linear drift in ms per 10 min)."""
    t = np.array([p[0] for p in pairs])
    o = np.array([p[1] for p in pairs])
    slope, _ = np.polyfit(t, o, 1)
    return float(o.mean()), float(o.std()), float(slope * 600)


def measure(ctx: Context) -> Section:
    """For `bench/run --av-drift SECONDS`: the same recording, as figures on the page."""
    root = ctx.work / "av-drift"
    root.mkdir()
    mkv, counters = record(root, ctx.av_drift_s, "adc")
    section = Section(
        "av_drift",
        f"A/V offset and drift over {ctx.av_drift_s / 60:g} minutes (camera + microphone)",
        "A marker server drives an HTTP camera (320×240@15, a white square in the first frame of every "
        "second) and a PulseAudio pipe source (a 1 kHz burst at the start of every second) on one "
        f"schedule; the daemon records both through OpenCV and PortAudio for {ctx.av_drift_s:g} s "
        "(`adc` timestamps). Offset: audio marker minus video marker, every second, in the incident "
        "and in its MP4 export (decoded).",
    )
    for key, label, pairs in (
        ("mkv", "incident (Matroska)", offsets(mkv)),
        ("mp4", "MP4 export", mp4_offsets(mkv)),
    ):
        mean, sd, drift = _stats(pairs)
        section.add(Figure(f"{key}_offset", f"{label}: mean offset", "ms", [mean], digits=1))
        section.add(Figure(f"{key}_sd", f"{label}: offset sd", "ms", [sd], digits=1))
        section.add(Figure(f"{key}_drift", f"{label}: linear drift", "ms per 10 min", [drift], goal="≈ 0"))
    section.notes.append(f"counters: {json.dumps(counters)}")
    return section


def print_command(counters: dict[str, int], args: argparse.Namespace) -> None:
    print(json.dumps(counters))
    print(
        f"command: .venv/bin/python -m bench.bench_av_drift --seconds {args.seconds:g} "
        f"--timestamps {args.timestamps}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="recording length (default 600)")
    parser.add_argument("--timestamps", choices=["adc", "arrival"], default="adc")
    parser.add_argument("--keep", type=Path, help="keep the working directory here")
    args = parser.parse_args()
    if not all(shutil.which(tool) for tool in ("pulseaudio", "pactl", "age")):
        print("needs pulseaudio, pactl and age", file=sys.stderr)
        return 2
    root = args.keep or Path(tempfile.mkdtemp(prefix="av-drift-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        mkv, counters = record(root, args.seconds, args.timestamps)
        report(offsets(mkv), f"incident (Matroska), timestamps={args.timestamps}")
        report(mp4_offsets(mkv), "MP4 export")
        print_command(counters, args)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The daemon records a real HTTP MJPEG camera (ffmpeg) and a real PortAudio input (PulseAudio's sine)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from recorder.demo import set_up_room
from recorder.sources.camera import jpeg_size
from tests.integration.media_servers import (
    Demuxed,
    PulseAudio,
    configure_media,
    decrypt_incident,
    demux,
    ffmpeg_mjpeg_server,
    free_port,
    log_events,
    peak_hz,
    wait_for_log,
)
from tests.support import needs_tools, record_incident, start_daemon

PRE_ROLL_S = 2.0
RECORD_S = 3.0
SINE_HZ = 440

pytestmark = needs_tools("pulseaudio", "pactl", "ffmpeg", "age")


@dataclass
class Recorded:
    media: Demuxed
    log: list[dict[str, object]]
    state_files: list[str]
    returncode: int
    incident: str


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    root = tmp_path_factory.mktemp("camera_and_microphone")
    pulse = PulseAudio(root / "pulse", sine_hz=SINE_HZ)
    pulse.start()
    port = free_port()
    room = set_up_room(root / "room", pre_roll_s=PRE_ROLL_S, post_roll_s=0.5)
    configure_media(
        room.config,
        video=f'source = "camera"\ndevice = "http://127.0.0.1:{port}/cam.mjpg"\nwidth = 1280\nheight = 720',
        audio='source = "microphone"',
    )
    try:
        with ffmpeg_mjpeg_server(port):
            daemon = start_daemon(room, extra_env=pulse.env)
            try:
                wait_for_log(daemon.log_text, "source_up", 2)
                time.sleep(PRE_ROLL_S + 0.5)
                incident = record_incident(daemon, RECORD_S)
            finally:
                returncode = daemon.stop()
    finally:
        pulse.stop()
    mkv = decrypt_incident(daemon.state_dir, incident, room.officer_identity, root)
    files = sorted(p.name for p in daemon.state_dir.iterdir())
    return Recorded(demux(mkv), log_events(daemon.log_text()), files, returncode, incident)


def test_daemon_ran_and_stopped_cleanly(recorded: Recorded) -> None:
    assert recorded.returncode == 0
    assert not [e for e in recorded.log if e.get("event") == "source_down"]


def test_incident_audio_is_the_microphone_tone(recorded: Recorded) -> None:
    pcm = recorded.media.pcm()
    assert pcm.size >= 48_000
    assert abs(peak_hz(pcm[-48_000:]) - SINE_HZ) <= 5
    assert 15_000 < int(pcm.max()) < 17_500  # PulseAudio's sine peaks at half scale (-6 dBFS)


def test_incident_audio_lasts_as_long_as_its_timestamps_say(recorded: Recorded) -> None:
    audio = recorded.media.audio
    span_s = (audio[-1][0] - audio[0][0]) / 1000 + audio[-1][1].size / 48_000
    assert abs(recorded.media.pcm().size / 48_000 - span_s) <= 0.04  # no gap, no overlap
    # PulseAudio's sine source delivers 2 s at a time, so up to 2 s of the end may not have arrived.
    assert span_s >= PRE_ROLL_S + RECORD_S - 2.1


def test_audio_and_video_cover_the_same_time(recorded: Recorded) -> None:
    video, audio = recorded.media.video, recorded.media.audio
    overlap_ms = min(video[-1][0], audio[-1][0]) - max(video[0][0], audio[0][0])
    assert overlap_ms >= (RECORD_S - 0.5) * 1000


def test_video_frames_are_ffmpegs_jpegs_passed_through(recorded: Recorded) -> None:
    frames = [jpeg for _, jpeg in recorded.media.video]
    assert len(frames) >= (PRE_ROLL_S + RECORD_S) * 15 * 0.9
    assert all(jpeg_size(jpeg) == (1280, 720) for jpeg in frames)
    # ffmpeg's MJPEG encoder writes its name in a JPEG comment; OpenCV's libjpeg-turbo would not.
    assert all(b"Lavc" in jpeg[:200] for jpeg in frames)


def test_requested_and_delivered_formats_are_logged(recorded: Recorded) -> None:
    opened = next(e for e in recorded.log if e.get("event") == "camera_opened")
    assert opened["mode"] == "jpeg-passthrough" and opened["codec"] == "MJPG"
    assert (opened["requested"], opened["delivered"]) == ("1280x720@15", "1280x720")
    measured = next(e for e in recorded.log if e.get("event") == "camera_rate_measured")
    assert abs(float(measured["delivered_fps"]) - 15) < 1  # type: ignore[arg-type]
    microphone = next(e for e in recorded.log if e.get("event") == "microphone_opened")
    assert microphone["timestamps"] == "adc"


def test_sound_stack_writes_nothing_into_the_state_directory(recorded: Recorded) -> None:
    assert f"{recorded.incident}.age" in recorded.state_files
    daemon_files = ("audit", "daemon.lock")  # the audit log and its files; one daemon per directory
    strays = [n for n in recorded.state_files if not (n.endswith(".age") or n.startswith(daemon_files))]
    assert strays == []

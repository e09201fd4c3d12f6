"""Unplugging the camera and then the microphone mid-recording: audited, degraded, resumed, never fatal.

The camera is our own HTTP MJPEG server (stopped = connections closed and nothing listening); the
microphone is a PulseAudio server, SIGKILLed and restarted. The recording goes on with whichever
stream remains, and the room publishes what is missing in its status.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import pytest

from panic_button.client import RoomClient
from recorder.audit.verify import read_entries
from recorder.demo import set_up_room
from tests.integration.media_servers import (
    Demuxed,
    MarkerClock,
    MjpegServer,
    PulseAudio,
    configure_media,
    decrypt_incident,
    demux,
    free_port,
    wait_for_log,
)
from tests.support import RunningDaemon, needs_tools, start_daemon, wait_for_state

DOWN_S = 1.5

pytestmark = needs_tools("pulseaudio", "pactl", "age")


@dataclass
class Unplugged:
    media: Demuxed
    audit: list[dict[str, object]]
    incident: str
    degraded_seen: list[list[str]]
    returncode: int


def _wait_degraded(
    daemon: RunningDaemon, client: RoomClient, expected: list[str], timeout_s: float
) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert daemon.process.poll() is None, "the daemon exited"
        degraded = list(client.status()["degraded"])
        if degraded == expected:
            return degraded
        time.sleep(0.1)
    raise AssertionError(f"degraded never became {expected} within {timeout_s} s")


def _unplug_and_replug(daemon: RunningDaemon, camera: MjpegServer, pulse: PulseAudio) -> list[list[str]]:
    client = daemon.client()
    seen = []
    try:
        time.sleep(1.0)
        camera.stop()
        seen.append(_wait_degraded(daemon, client, ["camera"], 5))
        time.sleep(DOWN_S)
        camera.start()
        seen.append(_wait_degraded(daemon, client, [], 10))
        time.sleep(1.0)
        pulse.kill()
        seen.append(_wait_degraded(daemon, client, ["microphone"], 6))
        time.sleep(DOWN_S)
        pulse.start()
        seen.append(_wait_degraded(daemon, client, [], 10))
        time.sleep(2.5)  # PulseAudio's sine source delivers 2 s at a time
        client.clear()
        wait_for_state(client, "idle")
    finally:
        client.close()
    return seen


@pytest.fixture(scope="module")
def unplugged(tmp_path_factory: pytest.TempPathFactory) -> Unplugged:
    root = tmp_path_factory.mktemp("unplug")
    pulse = PulseAudio(root / "pulse", sine_hz=440)
    pulse.start()
    camera = MjpegServer(free_port(), MarkerClock())
    camera.start()
    room = set_up_room(root / "room", pre_roll_s=1.0, post_roll_s=0.5)
    video = f'source = "camera"\ndevice = "{camera.url}"\nwidth = 640\nheight = 360'
    configure_media(room.config, video=video, audio='source = "microphone"')
    try:
        daemon = start_daemon(room, extra_env=pulse.env)
        try:
            wait_for_log(daemon.log_text, "source_up", 2)
            time.sleep(1.0)
            client = daemon.client()
            incident = str(client.trigger(reason="test")["incident"])
            client.close()
            seen = _unplug_and_replug(daemon, camera, pulse)
        finally:
            returncode = daemon.stop()
    finally:
        camera.stop()
        pulse.stop()
    audit = [entry for _, entry, _ in read_entries(daemon.state_dir / "audit.jsonl") if entry]
    mkv = decrypt_incident(daemon.state_dir, incident, room.officer_identity, root)
    return Unplugged(demux(mkv), audit, incident, seen, returncode)


def test_daemon_survives_and_stops_cleanly(unplugged: Unplugged) -> None:
    assert unplugged.returncode == 0


def test_status_shows_what_is_missing_while_it_is_missing(unplugged: Unplugged) -> None:
    assert unplugged.degraded_seen == [["camera"], [], ["microphone"], []]


def test_failures_and_recoveries_are_audited_against_the_incident(unplugged: Unplugged) -> None:
    events = [
        (e["event"], e["data"]["source"])  # type: ignore[index]
        for e in unplugged.audit
        if e["event"] in ("source_failed", "source_recovered")
    ]
    assert events == [
        ("source_failed", "camera"),
        ("source_recovered", "camera"),
        ("source_failed", "microphone"),
        ("source_recovered", "microphone"),
    ]
    incidents = {e["data"]["incident"] for e in unplugged.audit if e["event"] == "source_failed"}  # type: ignore[index]
    assert incidents == {unplugged.incident}


def _longest_gap(times_ms: list[int]) -> tuple[int, int]:
    return max(itertools.pairwise(times_ms), key=lambda pair: pair[1] - pair[0])


def test_recording_goes_on_with_the_remaining_stream(unplugged: Unplugged) -> None:
    video = [pts for pts, _ in unplugged.media.video]
    audio = [pts for pts, _ in unplugged.media.audio]
    (v_from, v_to), (a_from, a_to) = _longest_gap(video), _longest_gap(audio)
    assert v_to - v_from >= DOWN_S * 1000 and a_to - a_from >= DOWN_S * 1000
    assert v_to < a_from, "the camera was unplugged first"
    assert any(v_from < t < v_to for t in audio), "no audio while the camera was away"
    assert any(a_from < t < a_to for t in video), "no video while the microphone was away"
    assert video[-1] > v_to + 1000 and audio[-1] > a_to + 500, "capture did not resume"

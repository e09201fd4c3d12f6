"""The whole path with a real daemon process and the real panic-button client (issue 2's proof)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import av
import pytest

from recorder.audit.verify import load_initial_key, read_entries, verify
from recorder.demo import DemoRoom, set_up_room
from recorder.sources.test_pattern import decode_frame_number
from tests.support import RunningDaemon, needs_tools, start_daemon, wait_for_state

PRE_ROLL_S = 2.0
RECORD_S = 2.0


@dataclass
class Recorded:
    daemon: RunningDaemon
    incident: str
    trigger_wall: float
    mkv: Path
    audit: list[dict[str, object]]


def _press(daemon: RunningDaemon, command: str, *extra: str) -> subprocess.CompletedProcess[str]:
    room = daemon.room
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "panic_button.cli",
            command,
            "--endpoint",
            room.endpoint,
            "--key",
            str(room.root / "button" / "demo-button.key_secret"),
            "--server-key",
            str(room.root / "keys" / "server.key"),
            "--json",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    room = set_up_room(tmp_path_factory.mktemp("room"), pre_roll_s=PRE_ROLL_S, post_roll_s=0.5)
    daemon = start_daemon(room)
    try:
        time.sleep(PRE_ROLL_S + 1.0)  # let the ring fill
        trigger_wall = time.time()
        pressed = _press(daemon, "press", "--reason", "test")
        assert pressed.returncode == 0, pressed.stderr
        reply = json.loads(pressed.stdout)
        time.sleep(RECORD_S)
        assert _press(daemon, "clear").returncode == 0
        wait_for_state(daemon.client(), "idle")
    finally:
        assert daemon.stop() == 0, daemon.log_text()
    incident = str(reply["incident"])
    mkv = room.root / "incident.mkv"
    decrypted = subprocess.run(
        [
            "age",
            "-d",
            "-i",
            str(room.officer_identity),
            "-o",
            str(mkv),
            str(room.root / "state" / f"{incident}.age"),
        ],
        capture_output=True,
        text=True,
    )
    assert decrypted.returncode == 0, decrypted.stderr
    audit = [e for _, e, _ in read_entries(room.root / "state" / "audit.jsonl") if e]
    return Recorded(daemon, incident, trigger_wall, mkv, audit)


def _video_frames(mkv: Path) -> list[tuple[float, int]]:
    """(seconds from the file's start, encoded frame number) for every video frame."""
    with av.open(str(mkv)) as container:
        stream = container.streams.video[0]
        return [
            (float(frame.pts * stream.time_base), decode_frame_number(frame.to_ndarray(format="bgr24")))
            for frame in container.decode(stream)
        ]


pytestmark = needs_tools("age")


def test_incident_decrypts_with_stock_age_into_video_and_audio(recorded: Recorded) -> None:
    with av.open(str(recorded.mkv)) as container:
        kinds = sorted(s.type for s in container.streams)
        codecs = sorted(s.codec_context.name for s in container.streams)
    assert kinds == ["audio", "video"]
    assert codecs == ["mjpeg", "pcm_s16le"]


def test_recording_starts_a_full_pre_roll_before_the_trigger(recorded: Recorded) -> None:
    started = next(e for e in recorded.audit if e["event"] == "incident_started")
    pre_roll = started["data"]["pre_roll"]  # type: ignore[index]
    assert pre_roll["delivered_s"] >= PRE_ROLL_S - 0.1
    frames = _video_frames(recorded.mkv)
    duration = frames[-1][0] - frames[0][0]
    assert duration >= PRE_ROLL_S + RECORD_S - 0.2


def test_frame_numbers_have_no_gap_or_duplicate_across_the_trigger(recorded: Recorded) -> None:
    numbers = [n for _, n in _video_frames(recorded.mkv)]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert len(numbers) >= (PRE_ROLL_S + RECORD_S) * 15 * 0.9


def test_audit_names_the_enrolled_client_and_verifies(recorded: Recorded) -> None:
    started = next(e for e in recorded.audit if e["event"] == "incident_started")
    assert started["data"]["client"] == "demo-button"  # type: ignore[index]
    assert started["data"]["incident"] == recorded.incident  # type: ignore[index]
    closed = next(e for e in recorded.audit if e["event"] == "incident_closed")
    assert closed["data"]["error"] is None  # type: ignore[index]
    state = recorded.daemon.state_dir
    report = verify(state / "audit.jsonl", load_initial_key(state / "audit.jsonl.verify-key"))
    assert report.ok, report.problems


def test_unenrolled_client_is_refused_and_nothing_is_recorded(daemon: RunningDaemon, tmp_path: Path) -> None:
    from panic_button.client import ClientKeys, NoContact, RoomClient
    from recorder.keygen import create_curve_keypair

    _public, secret = create_curve_keypair(tmp_path / "intruder", "intruder")
    keys = ClientKeys.load(secret, daemon.room.root / "keys" / "server.key")
    intruder = RoomClient(daemon.room.endpoint, keys, timeout_s=0.5, retries=2)
    with pytest.raises(NoContact):
        intruder.trigger("let me in")
    intruder.close()
    assert daemon.client().status()["state"] == "idle"
    assert list(daemon.state_dir.glob("*.age")) == []
    refusals = [json.loads(line) for line in daemon.log_text().splitlines() if "client_refused" in line]
    assert refusals and refusals[0]["key"] == keys.public.decode()


def test_invalid_config_is_refused_with_locations(room: DemoRoom) -> None:
    text = room.config.read_text().replace("pre_roll_s = 2.0", "pre_roll_s = -1\nprerol = 3")
    room.config.write_text(text)
    check = subprocess.run(
        [sys.executable, "-m", "recorder", "check-config", str(room.config)], capture_output=True, text=True
    )
    assert check.returncode == 2
    assert "recording.pre_roll_s" in check.stderr and "recording.prerol" in check.stderr
    run = subprocess.run(
        [sys.executable, "-m", "recorder", "run", "--config", str(room.config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2
    assert not (room.root / "state").exists()


def test_state_directory_and_files_are_private(recorded: Recorded) -> None:
    state = recorded.daemon.state_dir
    assert state.stat().st_mode & 0o777 == 0o700
    modes = {path.name: path.stat().st_mode & 0o777 for path in state.iterdir()}
    assert modes and set(modes.values()) == {0o600}, modes


def test_daemon_reports_its_process_hardening(daemon: RunningDaemon) -> None:
    privacy = daemon.client().status()["privacy"]
    assert privacy["core_dumps_off"] and privacy["not_dumpable"] and privacy["freed_memory_wiped"]
    assert privacy["key_memory_locked"] is True  # root here; elsewhere reported False, never hidden
    pid = daemon.process.pid
    limits = Path(f"/proc/{pid}/limits").read_text()
    assert re.search(r"Max core file size\s+0\s+0", limits)


def test_the_audit_verify_key_is_flagged_until_it_is_moved_off_the_device(room: DemoRoom) -> None:
    first = start_daemon(room)
    try:
        assert first.client().status()["privacy"]["audit_verify_key_on_device"] is True
    finally:
        first.stop()
    assert '"audit_verify_key_on_device"' in first.log_text()
    verify_key = first.state_dir / "audit.jsonl.verify-key"
    auditor = room.root / "auditor"
    auditor.mkdir()
    shutil.move(verify_key, auditor / verify_key.name)
    second = start_daemon(room)
    try:
        assert second.client().status()["privacy"]["audit_verify_key_on_device"] is False
    finally:
        second.stop()
    assert second.log_text().count('"audit_verify_key_on_device"') == 1  # the first start's warning only
    report = verify(second.state_dir / "audit.jsonl", load_initial_key(auditor / verify_key.name))
    assert report.ok, report


def test_a_decrypting_identity_on_the_device_stops_the_daemon_from_starting(room: DemoRoom) -> None:
    state = room.root / "state"
    state.mkdir(mode=0o700)
    stray = state / "officer-backup.txt"
    shutil.copy(room.officer_identity, stray)
    check = subprocess.run(
        [sys.executable, "-m", "recorder", "check-config", str(room.config)], capture_output=True, text=True
    )
    assert check.returncode == 2
    assert f"storage.directory: {stray} holds an age identity" in check.stderr
    run = subprocess.run(
        [sys.executable, "-m", "recorder", "run", "--config", str(room.config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2 and str(stray) in run.stderr + run.stdout
    assert not (state / "audit.jsonl").exists()
    stray.unlink()
    ok = subprocess.run(
        [sys.executable, "-m", "recorder", "check-config", str(room.config)], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr

"""The room: transitions, incidents and audit entries, on a manual clock with real files."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from recorder import faults
from recorder.audit.log import AuditLog
from recorder.audit.verify import read_entries
from recorder.clock import ManualClock
from recorder.config import AudioKind, RoomConfig, parse_config
from recorder.control.protocol import Request
from recorder.errors import ProtocolError
from recorder.incident.age_keys import Identity
from recorder.incident.output import open_incident_output
from recorder.packet import Packet, StreamKind
from recorder.ring import EncryptedRing
from recorder.room import Room
from recorder.router import PacketRouter
from recorder.secure_memory import KeyVault
from recorder.sources.test_pattern import TestPatternConfig, frame_packet
from recorder.state import State


def _config(tmp_path: Path, **recording: float) -> RoomConfig:
    return parse_config(
        {
            "room": "unit",
            "video": {"width": 320, "height": 240},
            "audio": {"source": "none"},
            "recording": {"pre_roll_s": 2, "post_roll_s": 1, "max_incident_s": 10, **recording},
            "control": {"server_secret_key": "k", "authorized_clients": "c"},
            "storage": {
                "directory": str(tmp_path / "state"),
                "recipients": [str(Identity.generate().recipient)],
            },
        },
        tmp_path,
    )


class Harness:
    def __init__(self, tmp_path: Path, **recording: float) -> None:
        self.config = _config(tmp_path, **recording)
        self.config.storage.directory.mkdir()
        AuditLog.create(self.config.storage.audit_path, tmp_path / "verify.key")
        self.audit = AuditLog(self.config.storage.audit_path)
        self.clock = ManualClock()
        ring = EncryptedRing(KeyVault(), 2, 10**8, 1)
        self.router = PacketRouter(ring, self.clock, audio_in_pre_roll=True)
        self.room = Room(
            self.config,
            self.clock,
            self.router,
            self.audit,
            lambda incident: open_incident_output(self.config, incident),
        )
        self.frame = 0
        self.pattern = TestPatternConfig(width=320, height=240, fps=10)

    def feed(self, seconds: float) -> None:
        for _ in range(int(seconds * 10)):
            self.clock.advance(0.1)
            now = self.clock.monotonic_ns()
            self.router.on_packet(frame_packet(self.pattern, self.frame, 0, now, self.clock.wall_time()))
            self.frame += 1
            self.room.tick()

    def request(self, kind: str, **fields: str) -> dict[str, object]:
        return self.room.handle("desk-1", Request(v=1, id=f"r{time.monotonic_ns()}", type=kind, **fields))  # type: ignore[arg-type]

    def events(self) -> list[str]:
        return [e["event"] for _, e, _ in read_entries(self.config.storage.audit_path) if e]

    def entries(self, event: str) -> list[dict[str, Any]]:
        return [
            e["data"] for _, e, _ in read_entries(self.config.storage.audit_path) if e and e["event"] == event
        ]

    def settle(self) -> None:
        deadline = time.monotonic() + 10
        while self.room._closing and time.monotonic() < deadline:
            time.sleep(0.01)
            self.room.tick()


def test_trigger_clear_post_roll_closes_one_audited_incident(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.feed(3)
    reply = h.request("trigger", reason="shouting")
    assert reply["state"] == "recording" and reply["incident"]
    h.feed(1)
    assert h.request("clear")["state"] == "post_roll"
    h.feed(1.5)
    assert h.room.state is State.IDLE
    h.settle()
    assert h.events() == ["incident_started", "clear", "incident_closed"]
    assert len(list(h.config.storage.directory.glob("*.age"))) == 1


def test_pre_roll_is_audited_as_configured_and_delivered(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.feed(5)
    h.request("trigger")
    started = next(
        e for _, e, _ in read_entries(h.config.storage.audit_path) if e and e["event"] == "incident_started"
    )
    pre_roll = started["data"]["pre_roll"]
    assert pre_roll["configured_s"] == 2
    assert pre_roll["delivered_s"] == pytest.approx(2.0, abs=0.11)
    assert pre_roll["video_frames"] in (20, 21)
    assert started["data"]["client"] == "desk-1"


def test_max_duration_ends_the_incident(tmp_path: Path) -> None:
    h = Harness(tmp_path, max_incident_s=2)
    h.request("trigger")
    h.feed(2.5)
    assert h.room.state is State.IDLE
    h.settle()
    closed = [
        e for _, e, _ in read_entries(h.config.storage.audit_path) if e and e["event"] == "incident_closed"
    ]
    assert closed[0]["data"]["why"] == "max_duration_reached"


def test_storage_that_cannot_be_created_again_refuses_the_trigger_with_storage_failed(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    storage = h.config.storage.directory
    storage.rename(tmp_path / "moved")
    storage.write_text("a file where the storage directory was")
    with pytest.raises(ProtocolError) as error:
        h.request("trigger")
    assert error.value.code == "storage_failed"
    assert h.room.state is State.IDLE
    assert {"storage", "audit"} <= set(h.room.degraded)  # the log lives there too: kept to write late


def test_a_storage_directory_moved_away_is_created_again_and_the_trigger_records(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.audit.append("daemon_started")  # an entry the new log does not have: it records the gap
    storage = h.config.storage.directory
    storage.rename(tmp_path / "moved")
    h.request("trigger")
    assert h.room.state is State.RECORDING
    events = [line.split('"event":"')[1].split('"')[0] for line in (storage / "audit.jsonl").open()]
    assert events[:2] == ["log_gap", "incident_started"]


def test_failing_audit_log_aborts_the_incident(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.feed(1)
    h.audit.close()  # every later append fails with EBADF
    with pytest.raises(ProtocolError) as error:
        h.request("trigger")
    assert error.value.code == "storage_failed"
    assert h.room.state is State.IDLE
    assert list(h.config.storage.directory.glob("*.age")) == []


def test_source_failure_is_audited_once_and_published_as_degraded(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.room.source_status("camera", False, "read timed out")
    h.room.source_status("camera", False, "read timed out")
    h.room.tick()
    assert h.room.status()["degraded"] == ["camera"]
    h.room.source_status("camera", True, "reconnected")
    h.room.tick()
    assert h.room.status()["degraded"] == []
    assert h.events() == ["source_failed", "source_recovered"]


def test_audio_packets_skip_the_ring_when_not_in_pre_roll(tmp_path: Path) -> None:
    clock = ManualClock()
    ring = EncryptedRing(KeyVault(), 2, 10**8, 1)
    router = PacketRouter(ring, clock, audio_in_pre_roll=False)
    router.on_packet(Packet(StreamKind.AUDIO, clock.monotonic_ns(), 0.0, 0, bytes(1920)))
    router.on_packet(Packet(StreamKind.VIDEO, clock.monotonic_ns(), 0.0, 0, b"jpeg"))
    assert len(ring) == 1


def test_failed_incident_write_ends_the_incident_audited_and_degrades_storage_until_it_recovers(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path)
    h.feed(1)
    incident = h.request("trigger")["incident"]
    h.room._open.writer._output._age._out.close()  # type: ignore[union-attr]  # the disk goes away
    deadline = time.monotonic() + 5
    while h.room.state is not State.IDLE and time.monotonic() < deadline:
        h.feed(0.1)  # until a chunk completes and its write fails
    assert h.room.state is State.IDLE  # nothing is recorded any more: the indicator must not say so
    assert h.room.status()["degraded"] == ["storage"]
    h.settle()
    closed = h.entries("incident_closed")
    assert [c["incident"] for c in closed] == [incident]
    assert closed[0]["why"] == "write_failed" and closed[0]["truncated"] is True and closed[0]["error"]
    h.feed(1.1)  # the next storage probe finds the disk writable again
    assert h.room.status()["degraded"] == []
    assert h.events()[-1] == "source_recovered"


def test_audio_disabled_is_the_effective_policy_in_the_audit(tmp_path: Path) -> None:
    from recorder.sources.factory import build_sources

    config = _config(tmp_path)
    config = config.model_copy(
        update={"audio": config.audio.model_copy(update={"enabled": False, "source": AudioKind.TEST_TONE})}
    )
    assert [s.name for s in build_sources(config, ManualClock(), lambda *_: None)] == ["test-pattern"]
    h = Harness(tmp_path)
    h.room._config = config
    h.feed(1)
    h.request("trigger")
    started = next(
        e for _, e, _ in read_entries(h.config.storage.audit_path) if e and e["event"] == "incident_started"
    )
    assert started["data"]["audio"] == {"enabled": False, "in_pre_roll": True}


def _assert_nothing_recorded(h: Harness) -> None:
    assert h.room.state is State.IDLE and h.room.status()["incident"] is None
    assert h.router._writer is None  # live packets go to the ring again, not to an orphan writer
    ring_before = len(h.router._ring)
    h.feed(0.3)
    assert len(h.router._ring) > ring_before
    assert list(h.config.storage.directory.glob("*.age")) == []


def test_damaged_audit_key_file_refuses_the_trigger_and_records_nothing(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.feed(1)
    key_file = h.config.storage.audit_path.with_name("audit.jsonl.key")
    good = key_file.read_bytes()
    key_file.write_bytes(b"damaged\n")  # AuditError, not StorageError
    with pytest.raises(ProtocolError) as error:
        h.request("trigger", reason="threat")
    assert error.value.code == "storage_failed"
    assert "nothing recorded" in error.value.message
    _assert_nothing_recorded(h)
    assert h.room.status()["degraded"] == ["audit"]
    key_file.write_bytes(good)  # repaired: the next probe writes the recovery entry and the late ones
    h.feed(1.1)
    assert h.room.status()["degraded"] == []
    recovered = h.entries("source_recovered")[-1]
    assert recovered["source"] == "audit" and recovered["late_entries"] == 1
    failed = h.entries("trigger_failed")
    assert (
        failed[0]["step"] == "audit_append" and failed[0]["reason"] == "threat" and failed[0]["happened_at"]
    )


def test_clear_that_cannot_be_audited_keeps_recording(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.feed(1)
    h.request("trigger")
    h.audit.close()  # every later append fails with EBADF
    with pytest.raises(ProtocolError) as error:
        h.request("clear")
    assert error.value.code == "storage_failed"
    assert h.room.state is State.RECORDING  # the alarm's recording goes on; the clear was refused
    assert h.room.status()["degraded"] == ["audit"]


@pytest.fixture
def fault_plan(tmp_path: Path) -> Iterator[Callable[[str, str], None]]:
    """Arm one fault at a named point of the trigger path (the daemon's test-only hook)."""
    path = tmp_path / "faults.json"

    def arm(point: str, error: str) -> None:
        path.write_text(json.dumps({"faults": [{"point": point, "error": error}]}))
        faults._plan = faults.FaultPlan(path)

    yield arm
    faults._plan = None


@pytest.mark.parametrize(
    ("point", "error", "code", "part"),
    [
        ("incident.open", "ENOSPC", "storage_failed", "storage"),
        ("writer.start", "exception", "internal_error", "storage"),
        ("incident.fsync", "EIO", "storage_failed", "storage"),  # the header's fsync
        ("audit.append", "EACCES", "storage_failed", "audit"),
    ],
)
def test_any_failed_start_step_removes_the_file_and_degrades_its_part(
    tmp_path: Path, fault_plan: Callable[[str, str], None], point: str, error: str, code: str, part: str
) -> None:
    h = Harness(tmp_path)
    h.feed(1)
    fault_plan(point, error)
    with pytest.raises(ProtocolError) as refused:
        h.request("trigger")
    assert refused.value.code == code
    _assert_nothing_recorded(h)
    assert h.room.status()["degraded"] == [part]
    h.feed(1.1)
    assert h.room.status()["degraded"] == []
    assert h.entries("trigger_failed")[0]["error"].endswith(f"(injected at {point})") or error == "exception"

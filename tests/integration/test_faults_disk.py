"""Real storage failures under a real daemon: a full disk that also holds the audit log, read-only
storage, an audit log that cannot be written, and a file system that turns read-only mid-recording.

Each test mounts its own small file system (tests run as root: a size-limited tmpfs, or an ext4
image on a loop device) and unmounts it in teardown.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from panic_button.client import Refused
from recorder.audit.verify import read_entries
from recorder.demo import DemoRoom, set_up_room
from tests.support import RunningDaemon, needs_tools, start_daemon, wait_for_state

pytestmark = needs_tools("mount", "umount", "mkfs.ext4", "chattr", "e2fsck")


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(mode=0o700, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        _unmount(path)


@contextlib.contextmanager
def ext4(path: Path, image: Path, size_mb: int = 16) -> Iterator[Path]:
    """An ext4 file system on a loop device that turns read-only on an error (errors=remount-ro)."""
    with image.open("wb") as handle:
        handle.truncate(size_mb * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    path.mkdir(mode=0o700, exist_ok=True)
    subprocess.run(["mount", "-o", "loop,errors=remount-ro", str(image), str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-R", "-i", str(path)], capture_output=True)
        _unmount(path)


def _unmount(path: Path) -> None:
    if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(path)], check=True)


def _fill(directory: Path, name: str) -> Path:
    """Write zeros until the file system is full, down to its last byte."""
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, bytes(size)):
                    pass
    finally:
        os.close(fd)
    return path


def _leave_free(directory: Path, free_bytes: int) -> Path:
    """A filler file that leaves about `free_bytes` free."""
    stat = os.statvfs(directory)
    path = directory / "filler"
    with path.open("wb") as handle:
        handle.write(bytes(max(0, stat.f_bavail * stat.f_frsize - free_bytes)))
    return path


def _request(daemon: RunningDaemon, kind: str) -> dict[str, Any]:
    """The reply, refused or not (a refusal's reply carries the status too)."""
    client = daemon.client(timeout_s=5.0, retries=1)
    try:
        return client.request(kind, reason="disk test")
    except Refused as refused:
        return {**refused.reply, "code": refused.code}
    finally:
        client.close()


def _wait_status(daemon: RunningDaemon, predicate: Any, timeout_s: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        status = _request(daemon, "status")
        if predicate(status):
            return status
        assert time.monotonic() < deadline, f"status never matched: {status}"
        time.sleep(0.1)


def _entries(log: Path, event: str) -> list[dict[str, Any]]:
    return [e["data"] for _, e, _ in read_entries(log) if e and e["event"] == event]


def _verifies(log: Path) -> bool:
    command = [sys.executable, "-m", "recorder", "audit", "verify", str(log), "--key", f"{log}.verify-key"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    return result.returncode == 0


def _room(root: Path, audit_elsewhere: bool = False) -> DemoRoom:
    room = set_up_room(root, pre_roll_s=1.0, post_roll_s=0.2)
    if audit_elsewhere:  # [storage] is the config's last table
        (root / "audit").mkdir(mode=0o700)
        room.config.write_text(room.config.read_text() + 'audit_log = "audit/audit.jsonl"\n')
    return room


@dataclass
class FullDisk:
    during_recording: dict[str, Any]  # the status once the incident's write failed
    refused: list[dict[str, Any]]  # replies to presses while the disk (and audit log) was full
    files_before: set[str]
    files_after: set[str]
    after_freeing: dict[str, Any]
    retrigger: dict[str, Any]
    log: Path  # a copy of the audit log (the tmpfs is gone)
    daemon_log: str
    returncode: int


@pytest.fixture(scope="module")
def full_disk(tmp_path_factory: pytest.TempPathFactory) -> FullDisk:
    root = tmp_path_factory.mktemp("full-disk")
    room, state = _room(root), root / "state"
    with tmpfs(state, "8m"):
        daemon = start_daemon(room)
        try:
            # Full while recording: the incident ends, audited as truncated; the room shows idle.
            _leave_free(state, 400_000)
            assert _request(daemon, "trigger")["state"] == "recording"
            during = _wait_status(daemon, lambda s: s["state"] == "idle" and "storage" in s["degraded"])
            # Full while idle, the audit log too: presses until the audit log cannot take the refusal.
            _fill(state, "filler-2")
            before = {p.name for p in state.glob("*.age")}
            refused = []
            while len(refused) < 30 and (not refused or "audit" not in refused[-1]["degraded"]):
                refused.append(_request(daemon, "trigger"))
            after = {p.name for p in state.glob("*.age")}
            for filler in state.glob("filler*"):  # the technician frees space
                filler.unlink()
            freed = _wait_status(daemon, lambda s: s["degraded"] == [], 5.0)
            retrigger = _request(daemon, "trigger")
            _request(daemon, "clear")
            wait_for_state(daemon.client(), "idle")
        finally:
            returncode = daemon.stop()
        for name in ("audit.jsonl", "audit.jsonl.verify-key"):
            shutil.copy(state / name, root / name)
    return FullDisk(
        during, refused, before, after, freed, retrigger, root / "audit.jsonl", daemon.log_text(), returncode
    )


def test_full_disk_refuses_presses_records_nothing_and_recovers_by_itself(full_disk: FullDisk) -> None:
    assert full_disk.during_recording["incident"] is None
    assert "audit" in full_disk.refused[-1]["degraded"], "the audit log never filled up"
    assert all(r["code"] == "storage_failed" and r["state"] == "idle" for r in full_disk.refused)
    assert full_disk.files_after == full_disk.files_before  # a refused start leaves no file
    assert full_disk.after_freeing["degraded"] == [] and full_disk.retrigger["state"] == "recording"
    assert full_disk.returncode == 0


def test_full_disk_incidents_are_accounted(full_disk: FullDisk) -> None:
    closed = _entries(full_disk.log, "incident_closed")
    assert closed[0]["truncated"] is True and "No space left" in closed[0]["error"]
    assert closed[-1]["incident"] == full_disk.retrigger["incident"] and closed[-1]["error"] is None
    assert '"audit_failed"' in full_disk.daemon_log  # what could not be audited was logged
    late = [e for e in _entries(full_disk.log, "trigger_failed") if "happened_at" in e]
    assert late, "the refusals kept while the log was full were not written once it recovered"


def test_full_disk_leaves_a_verifying_audit_log(full_disk: FullDisk) -> None:
    assert _verifies(full_disk.log)


def test_read_only_storage_refuses_then_recovers(tmp_path: Path) -> None:
    room = _room(tmp_path, audit_elsewhere=True)
    state = tmp_path / "state"
    with tmpfs(state, "8m"):
        daemon = start_daemon(room)
        try:
            subprocess.run(["mount", "-o", "remount,ro", str(state)], check=True)
            refused = _request(daemon, "trigger")
            assert refused["code"] == "storage_failed" and refused["state"] == "idle"
            assert refused["degraded"] == ["storage"]
            failed = _entries(tmp_path / "audit" / "audit.jsonl", "trigger_failed")
            assert failed[-1]["step"] == "open_file" and "Read-only" in failed[-1]["error"]
            subprocess.run(["mount", "-o", "remount,rw", str(state)], check=True)
            _wait_status(daemon, lambda s: s["degraded"] == [], 5.0)
            assert _request(daemon, "trigger")["state"] == "recording"
        finally:
            assert daemon.stop() == 0


def test_unwritable_audit_log_refuses_triggers_and_survives_sighup(tmp_path: Path) -> None:
    room = _room(tmp_path)
    state = tmp_path / "state"
    log = state / "audit.jsonl"
    with ext4(state, tmp_path / "disk.img"):
        daemon = start_daemon(room)
        try:
            subprocess.run(["chattr", "+i", str(log)], check=True)  # even root cannot write it now
            daemon.process.send_signal(signal.SIGHUP)  # reload while the audit cannot be written
            time.sleep(0.3)
            assert daemon.process.poll() is None, "SIGHUP killed the daemon"
            assert _request(daemon, "status")["degraded"] == ["audit"]
            refused = _request(daemon, "trigger")
            assert refused["code"] == "storage_failed" and refused["degraded"] == ["audit"]
            assert list(state.glob("*.age")) == []  # the incident's file was removed with its start
            subprocess.run(["chattr", "-i", str(log)], check=True)
            _wait_status(daemon, lambda s: s["degraded"] == [], 5.0)
        finally:
            assert daemon.stop() == 0
        late = {
            e["happened_at"] for e in _entries(log, "trigger_failed") + _entries(log, "allowlist_reloaded")
        }
        assert len(late) == 2  # both were written once the log recovered, with when they happened
        assert _verifies(log)


def test_storage_turning_read_only_mid_recording_is_recovered_at_next_start(tmp_path: Path) -> None:
    room = _room(tmp_path)
    state = tmp_path / "state"
    image = tmp_path / "disk.img"
    log = state / "audit.jsonl"
    with ext4(state, image):
        daemon = start_daemon(room)
        try:
            incident = _request(daemon, "trigger")["incident"]
            device = subprocess.run(["findmnt", "-no", "SOURCE", str(state)], capture_output=True, text=True)
            Path(f"/sys/fs/ext4/{Path(device.stdout.strip()).name}/trigger_fs_error").write_text("test\n")
            _wait_status(
                daemon, lambda s: s["state"] == "idle" and {"storage", "audit"} <= set(s["degraded"])
            )
        finally:
            assert daemon.stop() == 0  # the unwritable daemon_stopped entry is logged, not fatal
    subprocess.run(["e2fsck", "-fy", str(image)], capture_output=True)  # what the technician does
    with ext4_remount(state, image):
        start_daemon(room).stop()
        interrupted = _entries(log, "incident_interrupted")
        assert [e["incident"] for e in interrupted] == [incident]
        assert len(_entries(log, "daemon_recovered")) == 1
        assert _verifies(log)


@contextlib.contextmanager
def ext4_remount(path: Path, image: Path) -> Iterator[Path]:
    subprocess.run(["mount", "-o", "loop", str(image), str(path)], check=True)
    try:
        yield path
    finally:
        _unmount(path)

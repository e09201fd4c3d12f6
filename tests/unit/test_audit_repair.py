"""Issue 10 observations 2 and 3: a torn tail is sealed (never deleted), a short write never advances
the key, and a log that lost entries (or was deleted) is recorded as a gap at the next start."""

import errno
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recorder.audit import log as audit_log
from recorder.audit.log import AuditLog
from recorder.audit.state import read_state_file
from recorder.audit.verify import verify
from recorder.errors import StorageError
from tests.unit.audit_logs import make_log

TORN = b'{"data":{"client":"desk-1","n":6},"event":"clear","prev":"'


def test_a_torn_last_line_fails_until_the_writer_seals_it(tmp_path: Path) -> None:
    path, key = make_log(tmp_path, 6)
    size = path.stat().st_size
    path.write_bytes(path.read_bytes() + TORN)
    assert verify(path, key).problems == [
        "line 7: the line has no end (cut off during a write?); "
        "not sealed (sealed at the writer's next start)"
    ]
    writer = AuditLog(path)
    writer.append("daemon_started")
    writer.close()
    report = verify(path, key)
    assert report.ok, report.problems
    assert report.notes == [
        f"line 7: {len(TORN) + 1} bytes that are not entries (a write cut short by a crash) "
        "were sealed by seq 6 (tail_sealed)"
    ]
    assert path.read_bytes()[size : size + len(TORN) + 1] == TORN + b"\n"  # nothing deleted
    sealed = json.loads(path.read_bytes().splitlines()[7])
    assert sealed["event"] == "tail_sealed"
    assert sealed["data"]["cut"]["offset"] == size
    assert sealed["data"]["cut"]["sha256"] == hashlib.sha256(TORN + b"\n").hexdigest()
    assert writer.repairs[0]["event"] == "tail_sealed"


def test_an_entry_that_lost_only_its_newline_is_completed_at_start(tmp_path: Path) -> None:
    """A power cut after the entry's bytes but before its newline (and before the key update)."""
    path, key = make_log(tmp_path, 4)
    state = read_state_file(Path(f"{path}.key"))
    writer = AuditLog(path)
    writer.append("clear")
    writer.close()
    whole = path.read_bytes()
    path.write_bytes(whole[:-1])  # the last entry without its newline
    Path(f"{path}.key").write_bytes(state.encode())  # the key update never happened
    AuditLog(path).close()  # the restart
    report = verify(path, key)
    assert report.ok, report.problems
    assert report.entries == 5 and path.read_bytes() == whole


def test_a_seal_that_does_not_describe_the_bytes_fails(tmp_path: Path) -> None:
    path, key = make_log(tmp_path, 3)
    path.write_bytes(path.read_bytes() + TORN)
    AuditLog(path).close()
    lines = path.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b'{"data"', b'{"data" ')  # the sealed bytes were changed afterwards
    path.write_bytes(b"".join(lines))
    assert verify(path, key).problems[0].startswith("line 4: not canonical")


def test_a_short_write_raises_and_never_advances_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, key = make_log(tmp_path, 3)
    writer = AuditLog(path)
    real_write = os.write
    calls = []

    def full_disk(fd: int, data: bytes) -> int:
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data)[:20])  # the disk takes 20 bytes ...
        raise OSError(errno.ENOSPC, "No space left on device")  # ... then is full

    monkeypatch.setattr(audit_log.os, "write", full_disk)
    with pytest.raises(StorageError, match="No space left on device"):
        writer.append("incident_started", incident="x")
    monkeypatch.undo()
    assert read_state_file(Path(str(path) + ".key")).seq == 3
    writer.append("incident_started", incident="x")
    writer.close()
    report = verify(path, key)
    assert report.ok and report.entries == 5 and "line 4: 21 bytes" in report.notes[0]


def test_a_real_short_write_past_the_file_size_limit_is_a_clear_failure(tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes the kernel write only part of the line, as a full disk would."""
    path, key = make_log(tmp_path, 3)
    child = f"""
import resource, signal, sys
from pathlib import Path
from recorder.audit.log import AuditLog
from recorder.errors import StorageError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
writer = AuditLog(Path({str(path)!r}))
resource.setrlimit(resource.RLIMIT_FSIZE, ({path.stat().st_size + 40}, resource.RLIM_INFINITY))
try:
    writer.append("incident_started", incident="x" * 200)
except StorageError as error:
    print(error)
    sys.exit(3)
"""
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)
    assert result.returncode == 3 and "File too large" in result.stdout, result.stderr
    assert path.stat().st_size == 40 + sum(
        len(line) for line in path.read_bytes().splitlines(keepends=True)[:3]
    )
    writer = AuditLog(path)
    writer.close()
    report = verify(path, key)
    assert report.ok and report.entries == 4 and "line 4: 41 bytes" in report.notes[0]


def test_entries_dropped_from_the_end_are_recorded_as_a_gap_at_start(tmp_path: Path) -> None:
    path, key = make_log(tmp_path, 6)
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:4]))
    writer = AuditLog(path)
    assert writer.repairs[0]["event"] == "log_gap"
    assert (
        writer.repairs[0]["data"]["found_last_seq"] == 3
        and writer.repairs[0]["data"]["expected_last_seq"] == 5
    )
    writer.append("daemon_started")
    writer.close()
    assert verify(path, key).problems == [
        "line 5 (seq 6): 2 entries (seq 4..5) missing from the log: the device had written them "
        "(it found the log ending at seq 3; recorded by log_gap at its start)"
    ]


def test_tampering_after_a_gap_is_still_found(tmp_path: Path) -> None:
    path, key = make_log(tmp_path, 4)
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:2]))
    writer = AuditLog(path)
    writer.append("trigger", client="desk-1")
    writer.close()
    path.write_bytes(path.read_bytes().replace(b'"client":"desk-1"}', b'"client":"desk-2"}'))
    problems = verify(path, key).problems
    assert len(problems) == 2 and "missing from the log" in problems[0]


def test_a_deleted_log_with_its_state_kept_is_recorded_as_a_gap(tmp_path: Path) -> None:
    path, key = make_log(tmp_path, 5)
    path.unlink()
    writer = AuditLog(path)
    writer.close()
    assert writer.repairs[0]["event"] == "log_gap" and writer.repairs[0]["data"]["log_missing"] is True
    problems = verify(path, key).problems
    assert problems[0].startswith("line 1 (seq 5): 5 entries (seq 0..4) missing from the log")


def test_an_appended_forgery_after_the_device_entry_is_sealed_not_trusted(tmp_path: Path) -> None:
    """Complete lines after the state's entry whose MAC fails are not rolled forward."""
    path, key = make_log(tmp_path, 3)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(path.read_bytes() + lines[2].replace(b'"seq":2', b'"seq":3'))
    writer = AuditLog(path)
    writer.close()
    assert writer.repairs[0]["event"] == "tail_sealed"
    assert read_state_file(Path(str(path) + ".key")).seq == 4
    assert verify(path, key).ok

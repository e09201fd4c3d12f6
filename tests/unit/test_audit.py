"""Audit log: durable append, hash chain and forward-secure MAC detect every kind of edit."""

import json
import threading
from pathlib import Path

import pytest

from recorder.audit import chain
from recorder.audit.log import AuditLog
from recorder.audit.state import read_state_file
from recorder.audit.verify import load_initial_key, read_entries, verify
from recorder.errors import AuditError
from tests.unit.audit_logs import make_log, relink, rewrite_line


@pytest.fixture
def audit(tmp_path: Path) -> tuple[Path, bytes]:
    return make_log(tmp_path, 6)


def test_untouched_log_verifies(audit: tuple[Path, bytes]) -> None:
    path, key = audit
    report = verify(path, key)
    assert report.ok, report.problems
    assert report.entries == 6


def test_verification_key_file_round_trips(tmp_path: Path) -> None:
    key = AuditLog.create(tmp_path / "a.jsonl", tmp_path / "v.key")
    assert load_initial_key(tmp_path / "v.key") == key
    assert (tmp_path / "v.key").stat().st_mode & 0o777 == 0o600


def test_edited_field_is_detected(audit: tuple[Path, bytes]) -> None:
    path, key = audit
    rewrite_line(path, 2, lambda raw: raw.replace(b"desk-1", b"desk-9"))
    assert verify(path, key).problems == [
        "line 3 (seq 2): hash does not match the entry's bytes (entry edited)"
    ]


def test_edit_with_recomputed_hash_fails_the_mac(audit: tuple[Path, bytes]) -> None:
    path, key = audit
    rewrite_line(path, 5, lambda raw: relink(raw.replace(b"desk-1", b"someone-else"), mac_key=bytes(32)))
    assert "line 6 (seq 5): MAC does not verify" in verify(path, key).problems[0]


def test_current_device_key_cannot_forge_past_entries(audit: tuple[Path, bytes]) -> None:
    """Forward security: the key on the device is key[6]; rewriting entry 5 with it fails."""
    path, key = audit
    device_key = read_state_file(Path(str(path) + ".key")).key
    assert device_key == chain.key_at(key, 6)
    rewrite_line(path, 5, lambda raw: relink(raw.replace(b"desk-1", b"forged"), mac_key=device_key))
    assert "line 6 (seq 5): MAC does not verify" in verify(path, key).problems[0]


@pytest.mark.parametrize("mutation", ["delete", "swap", "duplicate"])
def test_deletion_reordering_insertion_detected(audit: tuple[Path, bytes], mutation: str) -> None:
    path, key = audit
    lines = path.read_bytes().splitlines(keepends=True)
    if mutation == "delete":
        del lines[3]
    elif mutation == "swap":
        lines[2], lines[3] = lines[3], lines[2]
    else:
        lines.insert(4, lines[3])
    path.write_bytes(b"".join(lines))
    problem = verify(path, key).problems[0]
    first_wrong_line = {"delete": 4, "swap": 3, "duplicate": 5}[mutation]
    assert problem.startswith(f"line {first_wrong_line} ") and "expected seq" in problem


def test_tail_truncation_detected_against_witness(audit: tuple[Path, bytes]) -> None:
    path, key = audit
    witness = (5, verify(path, key).last_hash)
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:4]))
    assert verify(path, key, witness).problems == ["truncated: the log ends at seq 3, a witness has seq 5"]


def test_tail_truncation_detected_against_the_device_state(audit: tuple[Path, bytes]) -> None:
    path, key = audit
    state = read_state_file(Path(str(path) + ".key"))
    assert verify(path, key, state=state).ok
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:4]))
    problems = verify(path, key, state=state).problems
    assert problems == [
        "truncated: the device state says 6 entries were written, the log ends at seq 3 "
        "(entries 4..5 missing)"
    ]


def test_a_state_of_another_log_is_detected(audit: tuple[Path, bytes], tmp_path: Path) -> None:
    path, key = audit
    other, _ = make_log(tmp_path / "other", 6)
    problems = verify(path, key, state=read_state_file(Path(str(other) + ".key"))).problems
    assert "the state's key is not this log's K[seq] (another log's state, or forged)" in problems


def test_wrong_key_fails(audit: tuple[Path, bytes]) -> None:
    path, _ = audit
    assert "MAC" in verify(path, bytes(32)).problems[0]


def test_reopening_continues_the_chain(audit: tuple[Path, bytes]) -> None:
    path, key = audit
    writer = AuditLog(path)
    writer.append("daemon_started")
    writer.close()
    report = verify(path, key)
    assert report.ok and report.entries == 7


def test_crash_between_entry_and_key_update_recovers(audit: tuple[Path, bytes]) -> None:
    path, key = audit
    state_file = Path(str(path) + ".key")
    state = read_state_file(state_file)
    lines = path.read_bytes().splitlines(keepends=True)
    # Simulate the crash: roll the state file back one entry.
    rolled_back = f"{5:020d} {chain.key_at(key, 5).hex()} {json.loads(lines[4])['hash']} {0:020d}\n"
    state_file.write_text(rolled_back)
    writer = AuditLog(path)
    assert writer.repairs == []
    writer.append("after_crash")
    writer.close()
    report = verify(path, key)
    assert report.ok and report.entries == 7
    assert read_state_file(state_file).seq == state.seq + 1


def test_create_refuses_to_overwrite(audit: tuple[Path, bytes], tmp_path: Path) -> None:
    path, _ = audit
    with pytest.raises(FileExistsError):
        AuditLog.create(path, tmp_path / "other.key")


def test_create_says_when_the_log_was_deleted_but_its_state_kept(audit: tuple[Path, bytes]) -> None:
    path, _ = audit
    path.unlink()
    with pytest.raises(AuditError, match=r"audit\.jsonl is missing but its state audit\.jsonl\.key remains"):
        AuditLog.create(path, path.with_name("new.key"))


def test_two_writers_interleave_without_breaking_the_chain(audit: tuple[Path, bytes]) -> None:
    """The daemon and an operator's `recorder purge` may append to the same log."""
    path, key = audit
    writers = [AuditLog(path), AuditLog(path)]

    def append_many(writer: AuditLog, name: str) -> None:
        for n in range(50):
            writer.append("test", writer=name, n=n)

    threads = [threading.Thread(target=append_many, args=(w, f"w{i}")) for i, w in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = verify(path, key)
    assert report.ok, report.problems
    assert report.entries == 106


def test_read_entries_yields_every_line_with_its_entry(audit: tuple[Path, bytes]) -> None:
    path, _ = audit
    rewrite_line(path, 1, lambda raw: raw.replace(b"desk-1", b"desk-9"))
    rows = list(read_entries(path))
    assert [number for number, _, _ in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[1][1] is None and "desk-9" in rows[1][2]
    assert rows[0][1] is not None and rows[0][1]["data"] == {"client": "desk-1", "n": 0}

"""Audit log: durable append, hash chain and forward-secure MAC detect every kind of edit."""

import json
from pathlib import Path

import pytest

from recorder.audit import chain
from recorder.audit.log import AuditLog
from recorder.audit.verify import load_initial_key, verify


@pytest.fixture
def audit(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "audit.jsonl"
    key = AuditLog.create(path, tmp_path / "verify.key")
    writer = AuditLog(path)
    for n in range(6):
        writer.append("trigger" if n % 2 else "clear", client="desk-1", n=n)
    writer.close()
    return path, key


def _rewrite(path: Path, lines: list[str]) -> None:
    path.write_text("".join(lines))


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
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace("desk-1", "desk-9")
    _rewrite(path, lines)
    assert "edited" in verify(path, key).problems[0]


def test_edit_with_recomputed_hash_fails_the_mac(audit: tuple[Path, bytes]) -> None:
    path, key = audit
    lines = path.read_text().splitlines(keepends=True)
    entry = json.loads(lines[5])
    entry["data"]["client"] = "someone-else"
    body = {k: v for k, v in entry.items() if k not in ("hash", "mac")}
    entry["hash"] = chain.entry_hash(body)
    lines[5] = json.dumps(entry) + "\n"
    _rewrite(path, lines)
    assert "MAC" in verify(path, key).problems[0]


def test_current_device_key_cannot_forge_past_entries(audit: tuple[Path, bytes], tmp_path: Path) -> None:
    """Forward security: the key on the device is key[6]; rewriting entry 5 with it fails."""
    path, key = audit
    device_key = bytes.fromhex(Path(str(path) + ".key").read_text().split()[1])
    assert device_key == chain.key_at(key, 6)
    lines = path.read_text().splitlines(keepends=True)
    entry = json.loads(lines[5])
    entry["data"]["client"] = "forged"
    body = {k: v for k, v in entry.items() if k not in ("hash", "mac")}
    entry["hash"] = chain.entry_hash(body)
    entry["mac"] = chain.entry_mac(device_key, entry["hash"])
    lines[5] = json.dumps(entry) + "\n"
    _rewrite(path, lines)
    assert not verify(path, key).ok


@pytest.mark.parametrize("mutation", ["delete", "swap", "duplicate"])
def test_deletion_reordering_insertion_detected(audit: tuple[Path, bytes], mutation: str) -> None:
    path, key = audit
    lines = path.read_text().splitlines(keepends=True)
    if mutation == "delete":
        del lines[3]
    elif mutation == "swap":
        lines[2], lines[3] = lines[3], lines[2]
    else:
        lines.insert(4, lines[3])
    _rewrite(path, lines)
    assert "seq" in verify(path, key).problems[0]


def test_tail_truncation_detected_against_witness(audit: tuple[Path, bytes]) -> None:
    path, key = audit
    witness = (5, verify(path, key).last_hash)
    lines = path.read_text().splitlines(keepends=True)
    _rewrite(path, lines[:4])
    report = verify(path, key, witness)
    assert report.problems and "truncated" in report.problems[0]


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
    state = Path(str(path) + ".key")
    # Simulate the crash: roll the state file back one entry.
    seq, _, _ = state.read_text().split()
    lines = path.read_text().splitlines()
    prev_entry = json.loads(lines[-2])
    state.write_text(f"{int(seq) - 1:020d} {chain.key_at(key, int(seq) - 1).hex()} {prev_entry['hash']}\n")
    writer = AuditLog(path)
    writer.append("after_crash")
    writer.close()
    assert verify(path, key).ok


def test_create_refuses_to_overwrite(audit: tuple[Path, bytes], tmp_path: Path) -> None:
    path, _ = audit
    with pytest.raises(FileExistsError):
        AuditLog.create(path, tmp_path / "other.key")


def test_two_writers_interleave_without_breaking_the_chain(audit: tuple[Path, bytes]) -> None:
    """The daemon and an operator's `recorder purge` may append to the same log."""
    import threading

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

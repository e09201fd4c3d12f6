"""The auditor's tools as functions: export's verdict for crash-cut files, the listing under a closed
pipe, and the accounting rules."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from recorder.audit import listing
from recorder.audit.accounting import account
from recorder.audit.log import AuditLog
from recorder.audit.reader import entries, scan
from recorder.audit.trail import trails
from recorder.incident.age_reader import DecryptResult
from recorder.incident.verdict import COMPLETE, DAMAGED, TRUNCATED, classify
from recorder.local_times import LocalTimes

INCIDENT = "room-1-20260101T100000Z-abcdef"


def _log(tmp_path: Path, *events: tuple[str, dict[str, object]]) -> Path:
    path = tmp_path / "audit.jsonl"
    AuditLog.create(path, tmp_path / "v.key")
    writer = AuditLog(path)
    for event, data in events:
        writer.append(event, **data)
    writer.close()
    return path


STARTED = ("incident_started", {"incident": INCIDENT, "client": "desk-1", "reason": None})


def _closed(why: str, chunks: int, error: str | None = None) -> tuple[str, dict[str, object]]:
    return (
        "incident_closed",
        {
            "incident": INCIDENT,
            "why": why,
            "output": {"chunks": chunks, "plaintext_bytes": chunks * 65536},
            "error": error,
        },
    )


def _decrypted(chunks: int, truncated: bool, dropped: int = 0) -> DecryptResult:
    return DecryptResult(truncated, chunks, chunks * 65536, dropped)


def test_a_file_without_a_close_and_a_torn_end_was_cut_by_a_crash(tmp_path: Path) -> None:
    verdict = classify(INCIDENT, _decrypted(3, True, dropped=100), _log(tmp_path, STARTED))
    assert verdict.kind == TRUNCATED and "no regular close" in verdict.detail


def test_a_recovery_close_with_fewer_chunks_now_is_damage(tmp_path: Path) -> None:
    interrupted = {"incident": INCIDENT, "file": f"{INCIDENT}.age", "exists": True, "bytes": 200_000}
    interrupted |= {"chunks": 3, "tail_bytes": 900, "truncated": True}  # as start-up recovery writes it
    log = _log(tmp_path, STARTED, ("incident_interrupted", interrupted))
    assert classify(INCIDENT, _decrypted(3, True, dropped=900), log).kind == TRUNCATED
    assert classify(INCIDENT, _decrypted(2, True), log).kind == DAMAGED


def test_a_regular_close_needs_the_exact_counts(tmp_path: Path) -> None:
    log = _log(tmp_path, STARTED, _closed("post_roll_elapsed", 4))
    assert classify(INCIDENT, _decrypted(4, False), log).kind == COMPLETE
    assert classify(INCIDENT, _decrypted(3, True, dropped=500), log).kind == DAMAGED
    assert classify(INCIDENT, _decrypted(5, False), log).kind == DAMAGED


def test_a_writer_failure_is_a_truncation_not_damage(tmp_path: Path) -> None:
    closed = {"incident": INCIDENT, "why": "write_failed", "output": {"chunks": 2, "tail_bytes": 10}}
    closed |= {"error": "StorageError: No space left on device", "truncated": True}  # the room's shape
    log = _log(tmp_path, STARTED, ("incident_closed", closed))
    verdict = classify(INCIDENT, _decrypted(2, True, dropped=10), log)
    assert verdict.kind == TRUNCATED and "No space left" in verdict.detail
    assert classify(INCIDENT, _decrypted(1, True), log).kind == DAMAGED


def test_an_incident_the_log_never_started_is_damaged(tmp_path: Path) -> None:
    assert classify(INCIDENT, _decrypted(4, False), _log(tmp_path, ("daemon_started", {}))).kind == DAMAGED


class _ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_listing_into_a_closed_pipe_raises_broken_pipe_for_main_to_handle(tmp_path: Path) -> None:
    """`recorder audit list LOG | head`: main() turns BrokenPipeError into a quiet exit."""
    log = _log(tmp_path, STARTED)
    with pytest.raises(BrokenPipeError):
        rows = listing.rows(scan(log), listing.Filters(), None)
        listing.write(rows, "table", LocalTimes.named("UTC", "en"), _ClosedPipe())


def test_accounting_names_an_unclosed_incident(tmp_path: Path) -> None:
    log = _log(tmp_path, STARTED)
    (tmp_path / f"{INCIDENT}.age").write_bytes(b"x")
    findings = account(trails(entries(log)), tmp_path)
    assert [(f.incident, f.problem.split(" (")[0]) for f in findings] == [
        (INCIDENT, "no incident_closed entry")
    ]

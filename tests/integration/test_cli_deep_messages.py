"""Messages made deep inside `recorder` (the verifier, the age reader, the config validators, the
vault's addresses) reach the operator in the command's language; what is machine-readable (the
`problem` field of `audit list --format json`) stays English (issue 13)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from recorder.audit.log import AuditLog
from recorder.demo import set_up_room


def _dutch(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recorder", "--language", "nl", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    AuditLog.create(path, tmp_path / "audit.jsonl.verify-key")
    writer = AuditLog(path)
    for n in range(3):
        writer.append("annotation", incident=f"room-{n}", client="desk-1", text="raised voice")
    writer.close()
    return path


def test_the_verifiers_problem_lines_are_dutch(log: Path, tmp_path: Path) -> None:
    other = tmp_path / "other" / "audit.jsonl"
    other.parent.mkdir()
    AuditLog.create(other, other.with_name("audit.jsonl.verify-key"))
    result = _dutch("audit", "verify", log, "--key", other.with_name("audit.jsonl.verify-key"))
    assert result.returncode == 1
    assert "regel 1 (seq 0): de MAC klopt niet (regel vervalst" in result.stderr, result.stderr


def test_a_line_that_is_not_an_entry_stays_english_in_json(log: Path) -> None:
    log.write_bytes(log.read_bytes().replace(b"raised voice", b"raised vo1ce", 1))
    listed = _dutch("audit", "list", log, "--format", "json")
    problems = [row["problem"] for row in map(json.loads, listed.stdout.splitlines()) if "problem" in row]
    assert problems == ["hash does not match the entry's bytes (entry edited)"]
    verified = _dutch("audit", "verify", log, "--key", log.with_name("audit.jsonl.verify-key"))
    assert "regel 1 (seq 0): hash does not match" in verified.stderr, verified.stderr


def test_the_age_readers_errors_are_dutch(tmp_path: Path) -> None:
    room = set_up_room(tmp_path / "room")
    incident = tmp_path / "interview-2-20260329T003000Z-000000.age"
    incident.write_bytes(b"not age at all\n")
    result = _dutch("export", incident, "--identity", room.officer_identity, "-o", tmp_path / "x.mkv")
    assert result.returncode != 0 and "geen age-bestand" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_our_config_validators_are_dutch_inside_pydantics_english(tmp_path: Path) -> None:
    room = set_up_room(tmp_path / "room")
    text = room.config.read_text()
    start = text.index("recipients = [")
    room.config.write_text(text[:start] + 'recipients = ["age1qqqq"]' + text[text.index("\n", start) :])
    result = _dutch("check-config", room.config)
    assert result.returncode == 2
    assert "storage.recipients.0: Value error, geen geldige age-ontvanger (bech32:" in result.stderr


def test_a_bad_vault_address_is_dutch() -> None:
    result = _dutch("vault", "list", "s3://X")
    assert result.returncode != 0
    assert result.stderr.strip() == "recorder: 's3://X': 'X' is geen geldige bucketnaam"

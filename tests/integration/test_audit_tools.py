"""The auditor's tools on a real room's log and incident (issue 10 observations 5 and 6, issue 9
observation 11): list with filters and formats, verify against state and witness, incidents show,
the accounting check, export's complete/damaged verdict; no traceback on any input."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from recorder.demo import DemoRoom, set_up_room
from tests.support import record_incident, start_daemon

REASON = "Bürger äußerte Drohung"


@dataclass(frozen=True)
class Room:
    room: DemoRoom
    incident: str

    @property
    def state(self) -> Path:
        return self.room.root / "state"

    @property
    def log(self) -> Path:
        return self.state / "audit.jsonl"

    @property
    def key(self) -> Path:
        return self.state / "audit.jsonl.verify-key"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Room:
    room = set_up_room(tmp_path_factory.mktemp("room"), pre_roll_s=1.0, post_roll_s=0.3)
    daemon = start_daemon(room)
    try:
        time.sleep(1.0)
        incident = record_incident(daemon, 1.0, reason="test")
        client = daemon.client()
        try:
            client.annotate(incident, REASON)
        finally:
            client.close()
    finally:
        assert daemon.stop() == 0, daemon.log_text()
    return Room(room, incident)


def _recorder(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recorder", *map(str, args)], capture_output=True, text=True, timeout=120
    )


def _copy(recorded: Room, tmp_path: Path) -> Path:
    log = tmp_path / "audit.jsonl"
    shutil.copy(recorded.log, log)
    return log


def test_list_shows_non_ascii_as_written_and_says_it_verified(recorded: Room) -> None:
    result = _recorder("audit", "list", recorded.log, "--key", recorded.key)
    assert result.returncode == 0, result.stderr
    assert (
        f"text={json.dumps(REASON, ensure_ascii=False)}" in result.stdout and "\\u00e4" not in result.stdout
    )
    assert result.stderr.startswith("verified: ") and "MACs" in result.stderr


def test_list_filters_by_event_incident_client_and_time(recorded: Room) -> None:
    rows = _json_rows("--event", "annotation", "--event", "clear", log=recorded.log)
    assert {row["event"] for row in rows} == {"annotation", "clear"}
    assert all(row["incident"] == recorded.incident and row["verified"] for row in rows)
    assert {row["event"] for row in _json_rows("--incident", recorded.incident, log=recorded.log)} >= {
        "incident_started",
        "incident_closed",
    }
    assert {row["client"] for row in _json_rows("--client", "demo-button", log=recorded.log)} == {
        "demo-button"
    }
    late = _recorder("audit", "list", recorded.log, "--since", "2999-01-01")
    assert late.returncode == 0 and late.stdout == "" and "no entries match" in late.stderr
    assert len(_json_rows("--until", "2999-01-01", log=recorded.log)) == len(_json_rows(log=recorded.log))


def test_list_as_csv(recorded: Room) -> None:
    result = _recorder("audit", "list", recorded.log, "--format", "csv", "--event", "annotation")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert result.returncode == 0 and len(rows) == 1
    assert json.loads(rows[0]["data"])["text"] == REASON and rows[0]["verified"] == "True"


def test_list_of_an_edited_log_says_so_and_exits_1(recorded: Room, tmp_path: Path) -> None:
    log = _copy(recorded, tmp_path)
    log.write_bytes(log.read_bytes().replace(b'"reason":"test"', b'"reason":"tset"', 1))
    result = _recorder("audit", "list", log, "--format", "json")
    assert result.returncode == 1 and "FAILED" in result.stderr and "Traceback" not in result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows[0]["verified"] and not rows[-1]["verified"]


@pytest.mark.parametrize("action", ["verify", "list"])
def test_a_deeply_nested_line_is_one_clear_problem_not_a_traceback(
    recorded: Room, tmp_path: Path, action: str
) -> None:
    log = _copy(recorded, tmp_path)
    log.write_bytes(log.read_bytes() + b"[" * 200_000 + b"\n")
    result = _recorder("audit", action, log, "--key", recorded.key)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "nested too deeply" in result.stderr


def test_verify_against_the_device_state_and_a_witness_finds_a_cut_tail(
    recorded: Room, tmp_path: Path
) -> None:
    log = _copy(recorded, tmp_path)
    whole = _recorder(
        "audit", "verify", log, "--key", recorded.key, "--state", Path(str(recorded.log) + ".key")
    )
    assert whole.returncode == 0, whole.stderr
    witness = whole.stdout.split("witness: ")[1].strip()
    log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:-2]))
    cut = _recorder(
        "audit", "verify", log, "--key", recorded.key, "--state", Path(str(recorded.log) + ".key")
    )
    assert cut.returncode == 1 and "truncated: the device state says" in cut.stderr
    cut = _recorder("audit", "verify", log, "--key", recorded.key, "--witness", witness)
    assert cut.returncode == 1 and "truncated: the log ends at seq" in cut.stderr
    bad = _recorder("audit", "verify", log, "--key", recorded.key, "--witness", "7:zz")
    assert bad.returncode == 1 and bad.stderr.startswith("recorder: --witness '7:zz'")


def test_incidents_show_gives_the_whole_trail_file_retention_and_hold(recorded: Room) -> None:
    result = _recorder("incidents", "show", recorded.incident, "--config", recorded.room.config)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "by demo-button" in out and REASON in out and "legal hold    none" in out
    assert "sha256 " in out and "retention     due " in out
    for event in ("incident_started", "clear", "incident_closed", "annotation"):
        assert f" {event} " in out
    facts = json.loads(
        _recorder("incidents", "show", recorded.incident, "--config", recorded.room.config, "--json").stdout
    )
    assert facts["file"]["size"] == (recorded.state / f"{recorded.incident}.age").stat().st_size
    unknown_id = recorded.incident[:-6] + "000000"  # well-formed, but neither logged nor on disk
    unknown = _recorder("incidents", "show", unknown_id, "--config", recorded.room.config)
    assert unknown.returncode == 1 and unknown.stderr.startswith(f"recorder: no incident {unknown_id!r}")


def test_check_accounts_for_every_incident(recorded: Room, tmp_path: Path) -> None:
    ok = _recorder("audit", "check", recorded.log, "--key", recorded.key)
    assert ok.returncode == 0 and "every incident has a start, a close" in ok.stdout
    log = _copy(recorded, tmp_path)  # the incident directory beside this copy is empty
    (tmp_path / "stray-20260101T000000Z-abcdef.age").write_bytes(b"x")
    missing = _recorder("audit", "check", log)
    assert missing.returncode == 1
    assert f"{recorded.incident}: its file is gone without an incident_deleted entry" in missing.stdout
    assert "stray-20260101T000000Z-abcdef: a file on disk without an incident_started entry" in missing.stdout


def test_export_with_the_log_tells_complete_from_damaged(recorded: Room, tmp_path: Path) -> None:
    incident = recorded.state / f"{recorded.incident}.age"
    common = ("--identity", recorded.room.officer_identity, "--audit", recorded.log, "--quiet")
    complete = _recorder("export", incident, "-o", tmp_path / "ok.mkv", *common)
    assert complete.returncode == 0, complete.stderr
    assert "COMPLETE: " in complete.stdout
    damaged = tmp_path / incident.name
    data = bytearray(incident.read_bytes())
    data[-5] ^= 0x01  # a flipped bit in the final chunk
    damaged.write_bytes(bytes(data))
    result = _recorder("export", damaged, "-o", tmp_path / "bad.mkv", *common)
    assert result.returncode == 1, result.stderr
    assert (
        "DAMAGED: the log closed it with" in result.stdout
        and "altered or cut after it was closed" in result.stdout
    )


def _json_rows(*args: str, log: Path) -> list[dict[str, object]]:
    result = _recorder("audit", "list", log, "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]

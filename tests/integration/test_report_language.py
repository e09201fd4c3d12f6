"""The auditor's report and the human time outputs in the room's language and time zone (issue 13):
Dutch headings, local times across the DST switch, the zone named; JSON stays UTC."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from recorder.audit.log import AuditLog
from recorder.config import load_config
from recorder.demo import set_up_room

ROOM = "interview-2"
# Amsterdam switches to summer time at 01:00 UTC on 29 March 2026: 00:30Z is 01:30 CET, 02:30Z 04:30 CEST
BEFORE_SWITCH = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
AFTER_SWITCH = datetime(2026, 3, 29, 2, 30, tzinfo=UTC)


def _write_log(log: Path, key: Path, room: str = ROOM) -> list[str]:
    """Two incidents, one each side of the switch, their files beside the log; the log is in UTC."""
    log.parent.mkdir(parents=True, exist_ok=True)
    AuditLog.create(log, key)
    at = [BEFORE_SWITCH]
    writer = AuditLog(log, now=lambda: at[0])
    incidents = []
    for n, start in enumerate((BEFORE_SWITCH, AFTER_SWITCH)):
        incident = f"{room}-{start:%Y%m%dT%H%M%SZ}-{n:06x}"
        at[0] = start
        writer.append("incident_started", incident=incident, client="desk-1", reason="threat at desk")
        writer.append("incident_closed", incident=incident, why="post_roll_elapsed", media_s=40.0, error=None)
        (log.parent / f"{incident}.age").write_bytes(b"age-encryption.org/v1\n")
        incidents.append(incident)
    writer.close()
    return incidents


@pytest.fixture
def log(tmp_path: Path) -> Path:
    _write_log(tmp_path / "audit.jsonl", tmp_path / "audit.jsonl.verify-key")
    return tmp_path / "audit.jsonl"


def _recorder(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recorder", *map(str, args)], capture_output=True, text=True, timeout=60
    )


def _report(log: Path, out: Path, language: str, *extra: str) -> str:
    key = log.with_name("audit.jsonl.verify-key")
    since = ("--since", "2026-03-01")
    result = _recorder(
        "--language", language, "audit", "report", log, "--key", key, "-o", out, *since, *extra
    )
    assert result.returncode == 0, result.stderr
    return out.read_text()


def test_a_dutch_report_has_dutch_headings_and_local_times_across_the_dst_switch(
    log: Path, tmp_path: Path
) -> None:
    html = _report(log, tmp_path / "rapport.html", "nl")
    assert '<html lang="nl">' in html and "<h1>Auditrapport van de ruimte-opnames</h1>" in html
    assert "<h2>Alarmen per week</h2>" in html and f"<h2>Ruimte {ROOM}</h2>" in html
    assert "het auditlog klopt" in html and "<th>Begonnen</th>" in html
    assert "Tijden in Europe/Amsterdam (CET/CEST)." in html and "vanaf 1 mrt 2026" in html
    assert "<td>29-03-2026, 01:30</td>" in html and "<td>29-03-2026, 04:30</td>" in html
    assert "had op 12 apr 2026 verwijderd moeten zijn" in html  # 14 days after the start, in Dutch
    assert "week van 23 mrt 2026: 2" in html  # the ISO week of Sunday 29 March, local


def test_an_english_report_in_utc_says_so(log: Path, tmp_path: Path) -> None:
    html = _report(log, tmp_path / "report.html", "en", "--timezone", "UTC")
    assert '<html lang="en">' in html and "<h1>Room recorder audit report</h1>" in html
    assert "Times in UTC." in html
    assert "<td>29/03/2026, 00:30</td>" in html and "<td>29/03/2026, 02:30</td>" in html


def test_an_unknown_time_zone_is_one_line_and_no_report(log: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = _recorder("audit", "report", log, "-o", out, "--timezone", "Europe/Amsterdan")
    assert result.returncode == 1 and not out.exists()
    assert result.stderr.strip().splitlines() == [
        "recorder: --timezone: unknown time zone 'Europe/Amsterdan' (an IANA name such as Europe/Amsterdam)"
    ]


def test_audit_list_shows_local_times_in_the_table_and_utc_in_json(log: Path) -> None:
    table = _recorder("audit", "list", log, "--event", "incident_started")
    assert table.returncode == 0, table.stderr
    assert "2026-03-29 01:30:00 CET" in table.stdout and "2026-03-29 04:30:00 CEST" in table.stdout
    rows = _recorder("audit", "list", log, "--event", "incident_started", "--format", "json")
    times = [json.loads(line)["time"] for line in rows.stdout.splitlines()]
    assert times == ["2026-03-29T00:30:00.000Z", "2026-03-29T02:30:00.000Z"]


def test_a_bare_date_is_a_day_in_the_chosen_zone(log: Path) -> None:
    """At UTC-2, 00:30Z on 29 March is still 28 March and 02:30Z is the 29th: local days, not UTC ones."""

    def until_28th(zone: str) -> int:
        rows = _recorder(
            "audit", "list", log, "--format", "json", "--until", "2026-03-28", "--timezone", zone
        )
        return len(rows.stdout.splitlines())

    assert (until_28th("UTC"), until_28th("Atlantic/South_Georgia")) == (0, 2)


def test_incidents_show_uses_the_rooms_time_zone(tmp_path: Path) -> None:
    room = set_up_room(tmp_path / "room")
    with room.config.open("a") as config:
        config.write('\n[locale]\ntimezone = "Asia/Tokyo"\n')
    storage = load_config(room.config).storage
    first, _second = _write_log(
        storage.audit_path, storage.verify_key_path, room=load_config(room.config).room
    )
    result = _recorder("incidents", "show", first, "--config", room.config)
    assert result.returncode == 0, result.stderr
    assert "2026-03-29 09:30:00 JST by desk-1" in result.stdout
    as_json = json.loads(_recorder("incidents", "show", first, "--config", room.config, "--json").stdout)
    assert as_json["started"] == "2026-03-29T00:30:00+00:00"


def test_a_room_config_with_an_unknown_time_zone_is_refused(tmp_path: Path) -> None:
    room = set_up_room(tmp_path / "room")
    with room.config.open("a") as config:
        config.write('\n[locale]\ntimezone = "CEST"\n')
    result = _recorder("check-config", room.config)
    assert result.returncode == 2 and "locale.timezone" in result.stderr and "'CEST'" in result.stderr

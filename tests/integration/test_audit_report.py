"""`recorder audit report`: a self-contained HTML report, rendered by headless Chromium (issue 10)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from recorder.audit.log import AuditLog
from tests.support import needs_tools

NOW = datetime.now(UTC).replace(microsecond=0)
ROOM = "interview-2"


@dataclass(frozen=True)
class Sample:
    log: Path
    key: Path


class _Clock:
    def __init__(self) -> None:
        self.at = NOW - timedelta(days=42)

    def __call__(self) -> datetime:
        return self.at


def _incident(writer: AuditLog, clock: _Clock, n: int, start: datetime, reason: str | None) -> str:
    incident = f"{ROOM}-{start:%Y%m%dT%H%M%SZ}-{n:06x}"
    clock.at = start
    writer.append(
        "incident_started",
        incident=incident,
        client=f"desk-{n % 3 + 1}",
        reason=reason,
        file=f"{incident}.age",
    )
    clock.at = start + timedelta(seconds=40 + n)
    writer.append("clear", incident=incident, client="desk-1", reason=None, post_roll_s=10.0)
    clock.at = start + timedelta(seconds=50 + n)
    writer.append("incident_closed", incident=incident, why="post_roll_elapsed", media_s=50.0 + n, error=None)
    return incident


def make_sample_room(directory: Path) -> Sample:
    """Six weeks of a room: incidents with and without a justification, deletions in time and late,
    a legal hold; incident files on disk for those not deleted."""
    directory.mkdir(parents=True, exist_ok=True)
    log, key = directory / "audit.jsonl", directory / "audit.jsonl.verify-key"
    AuditLog.create(log, key)
    clock = _Clock()
    writer = AuditLog(log, now=clock)
    actor = {"user": "officer", "uid": 1001, "command": "purge"}
    per_week = [2, 4, 1, 3, 5, 2]
    n = 0
    for week, count in enumerate(per_week):
        for k in range(count):
            start = NOW - timedelta(days=42 - 7 * week - k, hours=3)
            reason = (
                None if n % 4 == 3 else ["Bürger äußerte Drohung", "raised voice", "threat at desk"][n % 3]
            )
            incident = _incident(writer, clock, n, start, reason)
            if n == 1:
                clock.at = start + timedelta(hours=2)
                writer.append(
                    "annotation", incident=incident, client="desk-2", text="verbal threat, security called"
                )
            age = NOW - start
            if n == 2:
                clock.at = start + timedelta(days=3)
                writer.append(
                    "hold_placed", incident=incident, reason="case 2026-17", actor=actor | {"command": "hold"}
                )
            elif age > timedelta(days=14):
                late = timedelta(days=4) if n == 0 else timedelta(hours=1)
                clock.at = start + timedelta(days=14) + late
                writer.append(
                    "incident_deleted",
                    incident=incident,
                    file=f"{incident}.age",
                    size=1000,
                    sha256="0" * 64,
                    retention_days=14,
                    actor=actor,
                )
            if n == 2 or age <= timedelta(days=14):
                (directory / f"{incident}.age").write_bytes(b"age-encryption.org/v1\n")
            n += 1
    writer.close()
    return Sample(log, key)


def _report(sample: Sample, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "recorder",
            "audit",
            "report",
            str(sample.log),
            "--key",
            str(sample.key),
            "-o",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def sample(tmp_path: Path) -> Sample:
    return make_sample_room(tmp_path / "room")


def test_the_report_states_the_verdict_first_and_every_incident(sample: Sample, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = _report(sample, out)
    assert result.returncode == 0, result.stderr
    html = out.read_text()
    assert html.index("audit log verifies") < html.index("<svg") < html.index(f"Room {ROOM}</h2>")
    assert html.count("<tr><td>interview-2-") == 17
    assert "MISSING after 24 h" in html and "Bürger äußerte Drohung" in html
    assert "kept: on legal hold" in html and "4 days LATE" in html and "within retention" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no external assets
    assert "<script" not in html


def test_the_period_selects_incidents_by_start(sample: Sample, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    since = (NOW - timedelta(days=14)).strftime("%Y-%m-%d")
    assert _report(sample, out, "--since", since).returncode == 0
    html = out.read_text()
    assert 0 < html.count("<tr><td>interview-2-") < 17


def test_a_tampered_log_fails_at_the_top_of_the_report(sample: Sample, tmp_path: Path) -> None:
    sample.log.write_bytes(sample.log.read_bytes().replace(b"raised voice", b"raised vo1ce", 1))
    out = tmp_path / "report.html"
    result = _report(sample, out)
    assert result.returncode == 1 and f"problems in {ROOM}" in result.stdout
    html = out.read_text()
    assert '<div class="verdict bad">' in html and html.index("FAILS verification") < html.index("<svg")


@needs_tools("chromium")
def test_chromium_renders_the_report_with_its_chart(sample: Sample, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert _report(sample, out).returncode == 0
    shot = tmp_path / "report.png"
    chromium = [shutil.which("chromium") or "chromium", "--headless", "--no-sandbox", "--disable-gpu"]
    chromium += [f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars"]
    dom = subprocess.run([*chromium, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120)
    assert "audit log verifies" in dom.stdout and "<rect" in dom.stdout
    subprocess.run(
        [*chromium, f"--screenshot={shot}", "--window-size=1200,1500", out.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (1500, 1200)
    bar_blue = np.all(np.abs(image.astype(int) - [168, 110, 59]) < 12, axis=2)  # #3b6ea8 in BGR
    verdict_green = np.all(np.abs(image.astype(int) - [225, 244, 227]) < 6, axis=2)  # #e3f4e1
    assert bar_blue.sum() > 2000 and verdict_green.sum() > 2000

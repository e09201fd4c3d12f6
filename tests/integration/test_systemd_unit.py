"""The systemd template is valid and hardened (checked offline with systemd-analyze)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.support import needs_tools

UNIT = Path(__file__).parents[2] / "systemd" / "recorder@.service"

pytestmark = needs_tools("systemd-analyze")


def _instance(tmp_path: Path, exec_path: str) -> Path:
    """An instance unit whose ExecStart points at an executable that exists here."""
    text = UNIT.read_text().replace("/usr/local/bin/recorder", exec_path)
    unit = tmp_path / "recorder@room-1.service"
    unit.write_text(text)
    return unit


def test_unit_verifies_without_warnings(tmp_path: Path) -> None:
    unit = _instance(tmp_path, shutil.which("true") or "/bin/true")
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0
    own = [line for line in result.stderr.splitlines() if unit.name in line]
    assert own == [], own  # unknown keys only warn, so the warnings are the check


def test_unit_exposure_is_at_most_2(tmp_path: Path) -> None:
    unit = _instance(tmp_path, shutil.which("true") or "/bin/true")
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--threshold=20", str(unit)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    match = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
    assert match and float(match.group(1)) <= 2.0


def test_unit_runs_the_daemon_as_notify_with_watchdog_and_no_core_dumps() -> None:
    text = UNIT.read_text()
    for line in (
        "Type=notify",
        "WatchdogSec=",
        "Restart=always",
        "LimitCORE=0",
        "LimitMEMLOCK=infinity",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "UMask=0077",
    ):
        assert line in text

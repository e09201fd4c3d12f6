"""CI's bounded fuzz run: every target of `python -m fuzz` under atheris for a fixed number of inputs
(the documented full run, 100,000 per target, is in docs/reliability.md), and every committed crash
regression replayed. libFuzzer's seed is fixed, so the same inputs run every time."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

import fuzz.targets.audit
from fuzz.contract import remove_scratch
from fuzz.replay import replay
from fuzz.runner import REGRESSIONS
from fuzz.targets import TARGETS
from recorder.audit.state import WriterState

ROOT = Path(__file__).resolve().parents[2]
INPUTS = 1500  # per target; the whole run takes ~10 s on 2 busy cores


def _fuzz(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "fuzz", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)


@pytest.mark.slow
def test_every_target_keeps_its_contract_for_a_bounded_budget(tmp_path: Path) -> None:
    done = _fuzz("--inputs", str(INPUTS), "--seed", "1", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {m[0]: m[1:] for m in re.findall(r"^(\w+)\s+(\d+)\s+(\d+)\s+(\d+)\s", done.stdout, re.MULTILINE)}
    for target in TARGETS:
        inputs, crashes, hangs = (int(n) for n in rows[target])
        assert (inputs >= INPUTS, crashes, hangs) == (True, 0, 0), done.stdout


def test_every_committed_regression_replays_cleanly() -> None:
    regressions = sorted(path for path in REGRESSIONS.glob("*/*") if path.is_file())
    assert {path.parent.name for path in regressions} <= set(TARGETS)
    assert len(regressions) >= 9
    done = _fuzz("--replay", *map(str, regressions))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": ok") == len(regressions), done.stdout


@pytest.fixture
def _logging_restored() -> Iterator[None]:
    """The targets silence structlog for the whole process and write into /dev/shm: undo both."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)
    remove_scratch()


@pytest.mark.usefixtures("_logging_restored")
def test_replay_catches_a_broken_contract_and_a_hang(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness itself can fail: with the state parser of before the fix (a negative seq accepted)
    the audit target reports the input, and a parser that never returns is a hang."""
    saved = tmp_path / "audit" / "state-with-negative-seq"
    saved.parent.mkdir()
    saved.write_bytes(b"S-1 " + b"ab" * 32 + b" " + b"cd" * 32 + b" 0\n")
    assert replay("audit", saved, timeout_s=30).ok
    lenient = WriterState(-1, bytes(32), "0" * 64, 0)
    monkeypatch.setattr(fuzz.targets.audit, "parse_state", lambda raw, where: lenient)
    assert "negative count" in str(replay("audit", saved, timeout_s=30).failure)
    monkeypatch.setattr(fuzz.targets.audit, "parse_state", lambda raw, where: time.sleep(5))
    assert "Hang: still running after 0.2 s" in str(replay("audit", saved, timeout_s=0.2).failure)


def test_replay_of_an_unknown_target_is_a_usage_error(tmp_path: Path) -> None:
    unknown = tmp_path / "nonesuch" / "input"
    unknown.parent.mkdir()
    unknown.write_bytes(b"")
    done = _fuzz("--replay", str(unknown))
    assert done.returncode == 2 and "no fuzz target 'nonesuch'" in done.stderr, done.stderr

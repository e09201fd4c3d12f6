"""Run each target under atheris for a number of inputs and collect its totals from libFuzzer's output."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fuzz.contract import SCRATCH_ENV, new_scratch, silence_logs
from fuzz.targets import load

REGRESSIONS = Path(__file__).resolve().parent / "regressions"
"""Inputs that once crashed a target, one directory per target; each is replayed by CI."""


@dataclass(frozen=True)
class Budget:
    inputs: int  # per target
    timeout_s: int  # per input: longer is a hang
    rss_limit_mb: int  # the whole process: more is unbounded memory
    seed: int  # libFuzzer's random seed: a fixed one makes a run repeatable
    max_len: int  # longest input libFuzzer makes


@dataclass(frozen=True)
class Totals:
    target: str
    inputs: int
    crashes: int  # undocumented exceptions, broken contracts, memory over the limit
    hangs: int
    seconds: float
    edges: int  # coverage counters libFuzzer saw ("cov:")
    artifacts: tuple[Path, ...]
    exit_code: int
    log: Path

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.artifacts and self.inputs > 0


def run_target(name: str, budget: Budget, out: Path) -> Totals:
    """Fuzz target `name` in a child process; its corpus, crashing inputs and log go under `out`."""
    corpus, crashes, logs = out / "corpus" / name, out / "crashes" / name, out / "logs"
    shutil.rmtree(corpus, ignore_errors=True)
    for directory in (corpus, crashes, logs):
        directory.mkdir(parents=True, exist_ok=True)
    silence_logs()
    for number, seed in enumerate(load(name).seeds()):
        (corpus / f"seed-{number:03d}").write_bytes(seed)
    for regression in sorted((REGRESSIONS / name).glob("*")):  # every fixed crash is tried again first
        shutil.copyfile(regression, corpus / f"regression-{regression.name}")
    before = set(crashes.iterdir())
    log = logs / f"{name}.log"
    command = [
        sys.executable,
        "-m",
        "fuzz.worker",
        name,
        f"-runs={budget.inputs}",
        f"-timeout={budget.timeout_s}",
        f"-rss_limit_mb={budget.rss_limit_mb}",
        f"-seed={budget.seed}",
        f"-max_len={budget.max_len}",
        f"-artifact_prefix={crashes}/",
        "-print_final_stats=1",
        str(corpus),
    ]
    started = time.monotonic()
    scratch = new_scratch()
    try:
        with log.open("wb") as sink:
            env = {**os.environ, SCRATCH_ENV: str(scratch)}
            code = subprocess.run(
                command, stdout=sink, stderr=subprocess.STDOUT, env=env, check=False
            ).returncode
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    seconds = time.monotonic() - started
    text = log.read_text(errors="replace")
    artifacts = tuple(sorted(set(crashes.iterdir()) - before))
    hangs = sum(1 for path in artifacts if path.name.startswith(("timeout-", "slow-unit-")))
    crashed = len(artifacts) - hangs
    if code != 0 and not artifacts:
        crashed += 1  # the child died without saving its input (see the log)
    return Totals(name, _executed(text), crashed, hangs, seconds, _edges(text), artifacts, code, log)


def _executed(text: str) -> int:
    found = re.findall(r"stat::number_of_executed_units: (\d+)", text) or re.findall(r"Done (\d+) runs", text)
    return int(found[-1]) if found else 0


def _edges(text: str) -> int:
    found = re.findall(r"\bcov: (\d+)", text)
    return int(found[-1]) if found else 0

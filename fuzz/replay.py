"""Run saved inputs through a target in this process, without atheris: `python -m fuzz --replay FILE`."""

from __future__ import annotations

import resource
import signal
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from fuzz.targets import load


class Hang(Exception):
    """An input ran longer than the per-input time limit."""


@dataclass(frozen=True)
class Outcome:
    path: Path
    failure: str | None  # None: the input kept the target's contract

    @property
    def ok(self) -> bool:
        return self.failure is None


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise Hang in the main thread once `seconds` have passed."""

    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise Hang(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def limit_memory(megabytes: int) -> None:
    """Cap this process's data segment (heap and anonymous mappings): an allocation beyond it fails
    at once (MemoryError, or the C library's own error) instead of growing until the machine swaps."""
    limit = megabytes << 20
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def replay(target: str, path: Path, timeout_s: float) -> Outcome:
    """Feed the bytes of `path` to `target` once; the failure is the traceback of what went wrong."""
    one_input = load(target).one_input
    data = path.read_bytes()
    try:
        with time_limit(timeout_s):
            one_input(data)
    except Exception:
        return Outcome(path, traceback.format_exc())
    return Outcome(path, None)


def target_of(path: Path) -> str:
    """The target a saved input belongs to: the name of the directory it is in
    (`fuzz/regressions/TARGET/…`, `fuzz-out/crashes/TARGET/…`)."""
    return path.resolve().parent.name

"""What a fuzz target may and may not do with an input, and the scratch space targets write into."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path


class ContractBroken(AssertionError):
    """The code under test accepted or answered an input in a way its documentation forbids (a wrong
    result, an undocumented error code): reported as a crash, like an undocumented exception."""


def expect(condition: bool, message: str) -> None:
    """Raise ContractBroken with `message` unless `condition` holds."""
    if not condition:
        raise ContractBroken(message)


def silence_logs() -> None:
    """Drop log events below CRITICAL: refused inputs are logged by design, 100,000 times here."""
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))


SCRATCH_ENV = "ROOM_RECORDER_FUZZ_SCRATCH"
"""Set by the runner for its workers: they end inside libFuzzer, so the runner removes it."""
_scratch: Path | None = None


def new_scratch() -> Path:
    """A new private directory (on /dev/shm when there is one: targets write a file per input)."""
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="room-recorder-fuzz-", dir=base))


def scratch() -> Path:
    """This process's directory for the files targets write, made on first use."""
    global _scratch
    if _scratch is None:
        given = os.environ.get(SCRATCH_ENV)
        _scratch = Path(given) if given else new_scratch()
    return _scratch


def fresh_dir(name: str) -> Path:
    """An empty directory `name` in the scratch space (emptied if it held files)."""
    path = scratch() / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    return path


def remove_scratch() -> None:
    global _scratch
    if _scratch is not None:
        shutil.rmtree(_scratch, ignore_errors=True)
        _scratch = None

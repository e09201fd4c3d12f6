"""Test-only fault injection: named points in the trigger, clear and close path that raise on demand.

Inert unless the daemon was started with `RECORDER_FAULT_PLAN=<file>` outside systemd (see
docs/reliability.md, "Fault injection"). `point(name)` then costs one global read.

A plan is a JSON file, re-read whenever it changes (so one daemon can run many cases):

    {"faults": [{"point": "incident.seal", "error": "ENOSPC", "after": 0, "times": 1}],
     "wall_offset_s": 0}

`after` hits of the point pass first, then the next `times` hits raise; `error` is an errno name
(raised as OSError) or "exception" (an arbitrary RuntimeError). `wall_offset_s` shifts the daemon's
wall clock (a clock jump); its monotonic clock never moves.
"""

from __future__ import annotations

import errno
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from recorder.clock import Clock
from recorder.errors import ConfigError

log = structlog.get_logger()

ENV = "RECORDER_FAULT_PLAN"
SYSTEMD_MARKER = "INVOCATION_ID"  # set by systemd for every service it runs
POINTS = (
    "incident.open",  # creating the incident file
    "writer.start",  # starting the incident writer thread
    "audit.append",  # the room's audit entries (incident_started, clear, incident_closed, …)
    "incident.seal",  # writing a sealed 64 KiB chunk
    "incident.fsync",  # fsync after chunks were written
    "incident.close",  # sealing the final chunk when the incident closes
    "loop.control",  # each step of the daemon's loop (recorder/daemon.py `_guarded`)
    "loop.allowlist",
    "loop.clock",
    "loop.room",
    "loop.retention",
    "loop.state_publisher",
    "loop.supervisor",
)
ERRORS = ("ENOSPC", "EIO", "EMFILE", "EACCES", "EROFS", "exception")
_RELOAD_EVERY_NS = 20_000_000


class InjectedFault(RuntimeError):
    """The arbitrary exception a plan injects ("error": "exception")."""


@dataclass
class _Fault:
    point: str
    error: str
    after: int
    times: int

    def raise_error(self) -> None:
        if self.error == "exception":
            raise InjectedFault(f"injected fault at {self.point}")
        code = getattr(errno, self.error)
        raise OSError(code, f"{os.strerror(code)} (injected at {self.point})")


class FaultPlan:
    """Lock discipline: `_lock` guards the faults and the file signature; `hit` runs on the control
    thread and on incident writer threads, `wall_offset_s` on capture threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._signature: tuple[int, int, int] | None = None
        self._checked_ns = 0
        self._faults: list[_Fault] = []
        self._wall_offset_s = 0.0
        self._reload()

    def hit(self, name: str) -> None:
        with self._lock:
            self._reload()
            for fault in self._faults:
                if fault.point != name or fault.times <= 0:
                    continue
                if fault.after > 0:
                    fault.after -= 1
                    return
                fault.times -= 1
                log.warning("fault_injected", point=name, error=fault.error)
                fault.raise_error()

    def wall_offset_s(self) -> float:
        with self._lock:
            self._reload()
            return self._wall_offset_s

    def _reload(self) -> None:
        now = time.monotonic_ns()
        if self._signature is not None and now - self._checked_ns < _RELOAD_EVERY_NS:
            return
        self._checked_ns = now
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._faults, self._wall_offset_s, self._signature = [], 0.0, (0, 0, 0)
            return
        signature = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if signature == self._signature:
            return
        self._faults, self._wall_offset_s = _parse(self.path.read_text())
        self._signature = signature
        log.warning("fault_plan_loaded", path=str(self.path), faults=len(self._faults))


def _parse(text: str) -> tuple[list[_Fault], float]:
    """Raises ConfigError for a plan that names an unknown point or error."""
    try:
        data: dict[str, Any] = json.loads(text)
        faults = [
            _Fault(str(f["point"]), str(f["error"]), int(f.get("after", 0)), int(f.get("times", 1)))
            for f in data.get("faults", [])
        ]
        offset = float(data.get("wall_offset_s", 0.0))
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise ConfigError(f"{ENV}: not a fault plan: {error!r}") from None
    for fault in faults:
        if fault.point not in POINTS or fault.error not in ERRORS:
            raise ConfigError(f"{ENV}: unknown point or error in {fault}")
    return faults, offset


_plan: FaultPlan | None = None


def point(name: str) -> None:
    """A step where a test may inject a failure. Does nothing unless a fault plan is installed."""
    plan = _plan
    if plan is not None:
        plan.hit(name)


def install_from_environment(environ: dict[str, str] | os._Environ[str]) -> FaultPlan | None:
    """Install the plan named by RECORDER_FAULT_PLAN, if any. Raises ConfigError under systemd
    (a production daemon never injects faults) or for a malformed plan."""
    global _plan
    path = environ.get(ENV)
    if not path:
        return None
    if environ.get(SYSTEMD_MARKER):
        raise ConfigError(f"{ENV} is set in a systemd service: fault injection is for tests only")
    _plan = FaultPlan(Path(path))
    log.warning("fault_injection_enabled", path=path, note="test only: this daemon fails on purpose")
    return _plan


class ShiftedClock:
    """The daemon's clock with the plan's wall-clock jump applied; monotonic time is untouched."""

    def __init__(self, inner: Clock, plan: FaultPlan) -> None:
        self._inner = inner
        self._plan = plan

    def monotonic_ns(self) -> int:
        return self._inner.monotonic_ns()

    def wall_time(self) -> float:
        return self._inner.wall_time() + self._plan.wall_offset_s()

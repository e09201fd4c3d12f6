"""Whether the wall clock can be trusted to delete evidence: retention's guard against clock steps.

Retention compares an incident's start (its audit time) with the wall clock. A forward step of the
wall clock (a technician's `date -s` typo, an attacker, a wrong RTC corrected in the wrong direction)
would make every incident look old and delete it early, irreversibly. The monotonic and boot clocks
never step, so a step shows as the wall clock running ahead of them. Slewing (NTP adjusts the rate by
at most 500 ppm) stays within the tolerance; a step does not.

The daemon keeps an anchor from its start (`ClockWatch`); `recorder purge` compares with the running
daemon's start, from its audit entry and the kernel's record of when the process started
(`step_since_daemon_start`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from recorder.audit.reader import entries
from recorder.clock import NS_PER_S, Clock
from recorder.config import RoomConfig
from recorder.errors import RetentionError
from recorder.messages import _
from recorder.storage_lock import LOCK_NAME, holder

STEP_TOLERANCE_S = 300.0
"""A step smaller than this is not one (and covers a daemon's start-up before its audit entry)."""
SLEW_PPM = 500.0
"""The most NTP slews the clock: the tolerance grows by this much of the time elapsed."""


def tolerance_s(elapsed_s: float) -> float:
    return STEP_TOLERANCE_S + abs(elapsed_s) * SLEW_PPM / 1e6


def describe_step(step_s: float, since: str) -> str:
    """In the CLI's language (`recorder purge`); the daemon speaks English (its audit and journal)."""
    days = step_s / 86400
    amount = _("{days:.1f} days").format(days=days) if abs(days) >= 1 else _("{s:.0f} s").format(s=step_s)
    return _(
        "the wall clock stepped {amount} forward of the monotonic clock since {since}: retention is "
        "suspended (nothing is deleted) until the clock is right again or synchronized"
    ).format(amount=amount, since=since)


class ClockWatch:
    """The daemon's anchor: wall and monotonic time at start. Used on the control thread only.

    `check` returns the problem while the wall clock is ahead of the anchor by more than the
    tolerance, else None. A step is accepted (the anchor moves) only when the kernel says the clock is
    synchronized (NTP's first sync on a box whose clock started behind): a typo stays a problem."""

    def __init__(self, clock: Clock, synchronized: Callable[[], bool | None]) -> None:
        self._clock = clock
        self._synchronized = synchronized
        self._anchor()

    def _anchor(self) -> None:
        self._wall0 = self._clock.wall_time()
        self._mono0 = self._clock.monotonic_ns()
        self._since = datetime.fromtimestamp(self._wall0).astimezone().isoformat(timespec="seconds")

    def check(self) -> str | None:
        elapsed = (self._clock.monotonic_ns() - self._mono0) / NS_PER_S
        step = self._clock.wall_time() - self._wall0 - elapsed  # ahead of the monotonic clock
        if step <= tolerance_s(elapsed):
            return None
        if self._synchronized() is True:
            self._anchor()
            return None
        return describe_step(step, self._since)


def step_since_daemon_start(config: RoomConfig, now: float | None = None) -> str | None:
    """For `recorder purge` beside the room's running daemon: the problem if the wall clock stepped
    forward since that daemon started, else None (also when no daemon runs: nothing to compare)."""
    pid = holder(config.storage.directory / LOCK_NAME)
    started_boot_s = _process_start_boot_s(pid) if pid else None
    if pid is None or started_boot_s is None:
        return None
    started_wall = _daemon_started_time(config.storage.audit_path, pid)
    if started_wall is None:
        return None
    now_wall = time.time() if now is None else now
    elapsed = time.clock_gettime(time.CLOCK_BOOTTIME) - started_boot_s
    step = now_wall - started_wall - elapsed
    if step <= tolerance_s(elapsed):
        return None
    since = datetime.fromtimestamp(started_wall).astimezone().isoformat(timespec="seconds")
    return describe_step(
        step, _("the room's daemon (pid {pid}) started at {since}").format(pid=pid, since=since)
    )


def refuse_if_clock_stepped(config: RoomConfig) -> None:
    """`recorder purge`'s guard. Raises RetentionError (nothing deleted) after a forward step."""
    problem = step_since_daemon_start(config)
    if problem is not None:
        raise RetentionError(problem)


def _process_start_boot_s(pid: int) -> float | None:
    """When the process started, in seconds of the boot clock (/proc/PID/stat field 22)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # after the command name, which may hold blanks
    try:
        return int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (IndexError, ValueError):
        return None


def _daemon_started_time(audit_path: Path, pid: int) -> float | None:
    """The wall time of the last `daemon_started` entry written by `pid`."""
    found = None
    try:
        for entry in entries(audit_path):
            if entry.event == "daemon_started" and entry.data.get("pid") == pid:
                found = entry.time
    except OSError:
        return None
    try:
        return None if found is None else datetime.fromisoformat(found.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None

"""What systemd sees of a room: READY once capture runs, one STATUS line per change, and WATCHDOG=1
only while the control loop turns and no capture thread is stuck (then systemd restarts the daemon)."""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog

from recorder.config import RoomConfig
from recorder.sources.base import MediaSource, StatusSink
from recorder.systemd_notify import Notifier

log = structlog.get_logger()

STALL_MARGIN_S = 5.0
"""Slack on top of a source's longest blocking device call before its thread counts as stuck."""
CLOCK_CHECK_S = 60.0
TIMESYNC_DIR = Path("/run/systemd/timesync")
_TIME_ERROR = 5  # adjtimex(2): the clock is not synchronized
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def status_line(status: dict[str, Any], clock_synced: bool | None = True) -> str:
    """The room's state for `systemctl status`, e.g. `room r1: recording incident X; degraded: camera`."""
    state, incident = status["state"], status.get("incident")
    if state == "idle":
        text = "idle"
    elif state == "recording":
        text = f"recording incident {incident}"
    else:
        text = f"{state.replace('_', '-')} of incident {incident}"
    parts = [f"room {status['room']}: {text}"]
    if status.get("degraded"):
        parts.append("degraded: " + ", ".join(status["degraded"]))
    if clock_synced is False:
        parts.append("clock not synchronized")
    return "; ".join(parts)


def stall_limit_s(config: RoomConfig) -> float:
    """How long a working capture thread may be silent: its longest blocking device call (an open or
    read time-out) or two frame intervals, plus a margin."""
    video, audio = config.video, config.audio
    longest = max(video.open_timeout_s, video.read_timeout_s, 2 / video.fps, audio.read_timeout_s)
    return longest + STALL_MARGIN_S


def clock_synchronized(timesync_dir: Path = TIMESYNC_DIR) -> bool | None:
    """Whether the system clock is synchronized: systemd-timesyncd's flag file where timesyncd runs,
    else the kernel's adjtimex(2) state (denied inside the unit's sandbox). None when unknown."""
    if timesync_dir.is_dir():
        return (timesync_dir / "synchronized").exists()
    timex = ctypes.create_string_buffer(512)  # struct timex (208 bytes) zeroed: modes 0, read only
    state = int(_libc.adjtimex(timex))
    return None if state < 0 else state != _TIME_ERROR


class Supervisor:
    """Tells systemd the room's state; called by the daemon's control loop only (`tick` and
    `stopping` on the control thread). It reads each source's `liveness`, written by that source's
    thread, and reports a stuck thread to the room as `<source>-stalled` (audited, and shown as
    degraded) while it stops petting the watchdog."""

    def __init__(
        self,
        notifier: Notifier,
        sources: Sequence[MediaSource],
        stall_s: float,
        report: StatusSink,
        *,
        now_ns: Callable[[], int] = time.monotonic_ns,
        clock_synced: Callable[[], bool | None] = clock_synchronized,
    ) -> None:
        self._notifier = notifier
        self._sources = sources
        self._stall_s = stall_s
        self._report = report
        self._now_ns = now_ns
        self._clock_synced = clock_synced
        self.ready = False
        self._line: str | None = None
        self._stalled: set[str] = set()
        self._clock: bool | None = None
        self._next_clock_ns = 0
        self._next_pet_ns = 0

    def tick(self, status: dict[str, Any]) -> None:
        """Once per loop turn, with the room's current status."""
        now = self._now_ns()
        self._check_clock(now)
        self._check_stalls(now)
        line = status_line(status, self._clock)
        if not self.ready and self._settled(status):
            self.ready = True
            self._notifier.ready(line)
            log.info("systemd_ready", status=line)
        elif self.ready and line != self._line:
            self._notifier.status(line)
        self._line = line
        interval = self._notifier.watchdog_interval_s
        if interval and not self._stalled and now >= self._next_pet_ns:
            self._notifier.watchdog()
            self._next_pet_ns = now + int(interval * 1e9)

    def stopping(self) -> None:
        self._notifier.stopping()

    def _settled(self, status: dict[str, Any]) -> bool:
        """Every source has delivered a packet or is reported degraded: the room's state is known."""
        degraded = set(status.get("degraded", ()))
        return all(source.liveness.delivered or source.name in degraded for source in self._sources)

    def _check_stalls(self, now: int) -> None:
        for source in self._sources:
            silent = source.liveness.silent_s(now)
            stalled = silent > self._stall_s
            if stalled and source.name not in self._stalled:
                self._stalled.add(source.name)
                log.error(
                    "capture_stalled",
                    source=source.name,
                    silent_s=round(silent, 1),
                    action="watchdog no longer petted: systemd restarts the daemon",
                )
                self._report(f"{source.name}-stalled", False, f"no progress for {silent:.0f} s")
            elif not stalled and source.name in self._stalled:
                self._stalled.discard(source.name)
                log.warning("capture_resumed", source=source.name)
                self._report(f"{source.name}-stalled", True, "capture resumed")

    def _check_clock(self, now: int) -> None:
        if now < self._next_clock_ns:
            return
        self._next_clock_ns = now + int(CLOCK_CHECK_S * 1e9)
        synced = self._clock_synced()
        if synced is False and self._clock is not False:
            log.warning(
                "clock_not_synchronized",
                action="incident names and audit times may be wrong: enable systemd-timesyncd or chrony",
            )
        elif synced and self._clock is False:
            log.info("clock_synchronized")
        self._clock = synced

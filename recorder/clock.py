"""One monotonic clock for the whole daemon, injectable so that tests never sleep."""

from __future__ import annotations

import threading
import time
from typing import Protocol

NS_PER_S = 1_000_000_000


class Clock(Protocol):
    def monotonic_ns(self) -> int: ...

    def wall_time(self) -> float: ...


class SystemClock:
    """The real clock: `time.monotonic_ns` for ordering and durations, `time.time` for humans."""

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    def wall_time(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when a test advances it (modelled on trio's MockClock)."""

    def __init__(self, start_ns: int = 1_000_000_000, wall_start: float = 1_800_000_000.0) -> None:
        self._lock = threading.Lock()  # tests may advance from one thread while sources read in another
        self._now_ns = start_ns
        self._wall_offset = wall_start - start_ns / 1e9

    def monotonic_ns(self) -> int:
        with self._lock:
            return self._now_ns

    def wall_time(self) -> float:
        with self._lock:
            return self._now_ns / 1e9 + self._wall_offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now_ns += int(seconds * 1e9)

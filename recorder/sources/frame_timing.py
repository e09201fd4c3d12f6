"""Frame timing for cameras: dropping frames above the configured rate, measuring the delivered
rate, and playing a video file at its own frame rate. Pure but for the clock and the stop event."""

from __future__ import annotations

import threading

from recorder.clock import NS_PER_S, Clock

RATE_WINDOW_NS = 2 * NS_PER_S
RATE_WARMUP_NS = NS_PER_S


class RateLimiter:
    """Keeps at most `fps` frames a second from a faster camera (a quarter-period of jitter allowed)."""

    def __init__(self, fps: float) -> None:
        self._period_ns = round(NS_PER_S / fps)
        self._next_ns: int | None = None

    def keep(self, now_ns: int) -> bool:
        if self._next_ns is not None and now_ns < self._next_ns - self._period_ns // 4:
            return False
        due = now_ns if self._next_ns is None else self._next_ns
        self._next_ns = max(due + self._period_ns, now_ns - self._period_ns)
        return True


class RateMeter:
    """Measures the delivered frame rate once per open, over `RATE_WINDOW_NS` after a warm-up of
    `RATE_WARMUP_NS` (opening a stream delivers the frames buffered while probing in a burst).
    `tick` is True once, when the measurement is done."""

    def __init__(self) -> None:
        self._opened_ns: int | None = None
        self._first_ns: int | None = None
        self._count = 0
        self._done = False
        self.fps = 0.0

    def tick(self, now_ns: int) -> bool:
        if self._done:
            return False
        if self._opened_ns is None:
            self._opened_ns = now_ns
        if now_ns - self._opened_ns < RATE_WARMUP_NS:
            return False
        if self._first_ns is None:
            self._first_ns = now_ns
        self._count += 1
        elapsed = now_ns - self._first_ns
        if elapsed < RATE_WINDOW_NS:
            return False
        self._done = True
        self.fps = (self._count - 1) * NS_PER_S / elapsed
        return True


class FilePacer:
    """Plays a file at its own frame rate: frame n is released at t0 + n/fps on the daemon's clock."""

    def __init__(self, clock: Clock, stop: threading.Event) -> None:
        self._clock = clock
        self._stop = stop
        self._t0_ns: int | None = None
        self._due_s = 0.0

    def wait_for_frame(self, fps: float) -> None:
        now = self._clock.monotonic_ns()
        if self._t0_ns is None:
            self._t0_ns = now
        due_ns = self._t0_ns + round(self._due_s * NS_PER_S)
        self._due_s += 1.0 / fps
        while now < due_ns and not self._stop.is_set():
            self._stop.wait(min((due_ns - now) / NS_PER_S, 0.1))
            now = self._clock.monotonic_ns()

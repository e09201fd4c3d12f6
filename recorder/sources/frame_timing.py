"""Frame timing for cameras: capture times on the daemon's clock, dropping frames above the
configured rate without losing bursts, measuring the delivered rate, and playing a video file at its
own frame rate. Pure but for the clock and the stop event."""

from __future__ import annotations

import threading

from recorder.clock import NS_PER_S, Clock
from recorder.sources.audio_clock import SlidingMin

RATE_WINDOW_NS = 2 * NS_PER_S
RATE_WARMUP_NS = NS_PER_S


class RateLimiter:
    """Keeps at most `fps` frames a second, on average, from a faster camera.

    A bucket of credit fills at `fps` per second of capture time, up to `BURST_S` seconds' worth,
    and each kept frame spends one (0.4 frame of jitter allowed). Frames that queued up while
    capture stalled (GC, CPU contention, a slow disk) arrive in a burst that the credit saved
    during the stall pays for: no frame is lost to a burst. `dropped` counts what was decimated.
    """

    BURST_S = 2.0
    _KEEP_AT = 0.6  # a frame needs this much credit: > 0.5 halves a camera twice as fast

    def __init__(self, fps: float) -> None:
        self._fps = fps
        self._capacity = max(1.0, fps * self.BURST_S)
        self._credit = 1.0
        self._last_ns: int | None = None
        self.dropped = 0

    def keep(self, now_ns: int) -> bool:
        if self._last_ns is not None:
            earned = max(0, now_ns - self._last_ns) * self._fps / NS_PER_S
            self._credit = min(self._capacity, self._credit + earned)
        self._last_ns = now_ns
        if self._credit < self._KEEP_AT:
            self.dropped += 1
            return False
        self._credit -= 1
        return True


class RateMeter:
    """Measures the delivered frame rate once per open, over `RATE_WINDOW_NS` after a warm-up of
    `RATE_WARMUP_NS` (opening a stream delivers the frames buffered while probing in a burst), and
    the rate the camera's own timestamps claim over the same frames (`media_fps`, 0 if it gives
    none). `tick` is True once, when the measurement is done."""

    def __init__(self) -> None:
        self._opened_ns: int | None = None
        self._first: tuple[int, int | None] | None = None  # (arrival, media) of the first frame counted
        self._count = 0
        self._done = False
        self.fps = 0.0
        self.media_fps = 0.0

    def tick(self, now_ns: int, media_ns: int | None = None) -> bool:
        if self._done:
            return False
        if self._opened_ns is None:
            self._opened_ns = now_ns
        if now_ns - self._opened_ns < RATE_WARMUP_NS:
            return False
        if self._first is None:
            self._first = (now_ns, media_ns)
        self._count += 1
        elapsed = now_ns - self._first[0]
        if elapsed < RATE_WINDOW_NS:
            return False
        self._done = True
        self.fps = (self._count - 1) * NS_PER_S / elapsed
        first_media = self._first[1]
        if media_ns is not None and first_media is not None and media_ns > first_media:
            self.media_fps = (self._count - 1) * NS_PER_S / (media_ns - first_media)
        return True

    @property
    def media_agrees(self) -> bool:
        """Whether the camera's timestamps run at the rate frames arrive (within 10 %): real capture
        times, not ones made up from a guessed frame rate (as for an HTTP MJPEG stream)."""
        return self.fps > 0 and abs(self.media_fps / self.fps - 1) < 0.1


class FrameClock:
    """Capture times of a camera's frames on the daemon's one monotonic clock.

    A frame is stamped when `read()` returned it, unless the camera's own timestamp (`media_ns`:
    OpenCV's position, i.e. the V4L2 buffer time, the stream's pts or a file's position) is trusted:
    then it is mapped onto the daemon's clock by the smallest `arrival - media` of the last
    `WINDOW_NS` (delivery latency only ever adds to it), so frames that queued up during a stall
    keep the spacing they were captured with instead of bunching at the moment they arrive.
    A jump of the camera's clock (back, or by more than `MAX_STEP_NS`: a loop, a reconnect)
    re-anchors it. Times always move forward, at least `MIN_GAP_NS` apart (the incident's time
    base): no two frames share a timestamp. `step_ns` is the last frame's media step (0: unknown).
    """

    WINDOW_NS = 5 * NS_PER_S
    MAX_STEP_NS = 5 * NS_PER_S
    MIN_GAP_NS = 1_000_000

    def __init__(self, trust_media: bool = False) -> None:
        self.trust_media = trust_media
        self._offsets = SlidingMin(self.WINDOW_NS)
        self._last_media: int | None = None
        self._last_pts: int | None = None
        self.step_ns = 0

    def restart(self, trust_media: bool) -> None:
        """A new stream (reopened camera, file played again): its clock owes nothing to the last
        one's, but times still only move forward."""
        self.trust_media = trust_media
        self._offsets.clear()
        self._last_media = None

    def stamp(self, arrival_ns: int, media_ns: int | None) -> int:
        pts = arrival_ns
        self.step_ns = 0
        if media_ns is not None:
            step = media_ns - self._last_media if self._last_media is not None else 0
            if 0 < step <= self.MAX_STEP_NS:
                self.step_ns = step
            else:
                self._offsets.clear()
            offset = self._offsets.push(arrival_ns, arrival_ns - media_ns)
            self._last_media = media_ns
            if self.trust_media:
                pts = media_ns + offset
        if self._last_pts is not None:
            pts = max(pts, self._last_pts + self.MIN_GAP_NS)
        self._last_pts = pts
        return pts


def missing_frames(step_ns: int, period_ns: float) -> int:
    """Frames the camera skipped when its clock advanced `step_ns` between two frames one
    `period_ns` apart: none up to 1.5 periods (jitter)."""
    if period_ns <= 0 or step_ns <= 1.5 * period_ns:
        return 0
    return max(0, round(step_ns / period_ns) - 1)


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

"""Per-client token buckets, so one flooding client cannot starve the others."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated_ns: int


class RateLimiter:
    """`rate` requests per second sustained, bursts up to `burst`. Not thread-safe (control thread)."""

    def __init__(self, rate: float, burst: float) -> None:
        self._rate = rate
        self._burst = burst
        self._buckets: dict[bytes, _Bucket] = {}

    def allow(self, client: bytes, now_ns: int) -> bool:
        bucket = self._buckets.setdefault(client, _Bucket(self._burst, now_ns))
        elapsed = (now_ns - bucket.updated_ns) / 1e9
        bucket.tokens = min(self._burst, bucket.tokens + elapsed * self._rate)
        bucket.updated_ns = now_ns
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True


class LogThrottle:
    """At most `limit` log lines per `window_s`, so a flood cannot flood the journal too.
    Not thread-safe: one per thread."""

    def __init__(self, limit: int, window_s: float) -> None:
        self._limit = limit
        self._window_ns = int(window_s * 1e9)
        self._window_start_ns: int | None = None
        self._logged = 0
        self._suppressed = 0

    def allow(self, now_ns: int) -> int | None:
        """None: suppress this line. Otherwise log it, with the returned number of lines suppressed
        since the last one that was logged."""
        if self._window_start_ns is None or now_ns - self._window_start_ns >= self._window_ns:
            self._window_start_ns, self._logged = now_ns, 0
        if self._logged >= self._limit:
            self._suppressed += 1
            return None
        self._logged += 1
        suppressed, self._suppressed = self._suppressed, 0
        return suppressed

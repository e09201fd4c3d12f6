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

"""The narrow interface every media source implements; the daemon sees nothing else."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from recorder.packet import Packet

PacketSink = Callable[[Packet], None]
"""Called from the source's own thread for every captured packet; must not block for long."""


class StatusSink(Protocol):
    """How a source tells the daemon about itself, from the source's own thread.

    `status(source_name, healthy, detail)` when it fails or recovers; `status(source_name, True,
    detail, lost=n)` when it lost `n` packets since its last such report (the health is unchanged;
    `detail` says what was lost and why). The room audits each report (`capture_lost`).
    """

    def __call__(self, name: str, healthy: bool, detail: str, lost: int = 0) -> None: ...


class Liveness:
    """When a source's thread last showed progress (a packet delivered, a device opened or given up
    on), on the real CLOCK_MONOTONIC: the daemon stops petting systemd's watchdog when a capture thread
    is silent too long (recorder/supervision.py). A planned quiet spell, such as a reconnect backoff,
    is `excuse`d. Only the source's thread writes; the control thread reads (single attribute stores,
    so a reader sees at worst a value one beat old)."""

    def __init__(self, now_ns: Callable[[], int] = time.monotonic_ns) -> None:
        self._now_ns = now_ns
        self.last_ns = now_ns()
        self.delivered = False  # at least one packet since start

    def beat(self, delivered: bool = False) -> None:
        self.last_ns = self._now_ns()
        self.delivered = self.delivered or delivered

    def excuse(self, seconds: float) -> None:
        """Quiet for up to `seconds` on purpose (a backoff wait; `math.inf` when finished)."""
        self.last_ns = self._now_ns() + int(min(seconds, 1e9) * 1e9)

    def silent_s(self, now_ns: int) -> float:
        return max(0.0, (now_ns - self.last_ns) / 1e9)

    def counting(self, sink: PacketSink) -> PacketSink:
        """`sink`, beating on every packet."""

        def deliver(packet: Packet) -> None:
            self.beat(delivered=True)
            sink(packet)

        return deliver


class MediaSource(Protocol):
    """A running producer of packets. `start` spawns the source's thread; `stop` joins it.

    `t0_ns` is a start instant on the daemon's clock shared by all sources, so that generated
    sources line up; capture devices may ignore it (their packets carry their own capture times).
    """

    name: str
    liveness: Liveness

    def start(self, sink: PacketSink, t0_ns: int | None = None) -> None: ...

    def stop(self) -> None: ...

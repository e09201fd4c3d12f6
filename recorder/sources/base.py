"""The narrow interface every media source implements; the daemon sees nothing else."""

from __future__ import annotations

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


class MediaSource(Protocol):
    """A running producer of packets. `start` spawns the source's thread; `stop` joins it.

    `t0_ns` is a start instant on the daemon's clock shared by all sources, so that generated
    sources line up; capture devices may ignore it (their packets carry their own capture times).
    """

    name: str

    def start(self, sink: PacketSink, t0_ns: int | None = None) -> None: ...

    def stop(self) -> None: ...

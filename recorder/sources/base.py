"""The narrow interface every media source implements; the daemon sees nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from recorder.packet import Packet

PacketSink = Callable[[Packet], None]
"""Called from the source's own thread for every captured packet; must not block for long."""

StatusSink = Callable[[str, bool, str], None]
"""Called as `status(source_name, healthy, detail)` when a source fails or recovers."""


class MediaSource(Protocol):
    """A running producer of packets. `start` spawns the source's thread; `stop` joins it.

    `t0_ns` is a start instant on the daemon's clock shared by all sources, so that generated
    sources line up; capture devices may ignore it (their packets carry their own capture times).
    """

    name: str

    def start(self, sink: PacketSink, t0_ns: int | None = None) -> None: ...

    def stop(self) -> None: ...

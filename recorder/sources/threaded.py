"""The thread discipline every source shares: one owned thread, started once, stopped and joined."""

from __future__ import annotations

import structlog

from recorder.clock import Clock
from recorder.sources.base import PacketSink, StatusSink
from recorder.sources.reconnect import SupervisedThread

log = structlog.get_logger()


class ThreadedSource:
    """Base of the `MediaSource`s: subclasses implement `_loop`, which runs on the source's own
    thread until `_stop` is set. `start`/`stop` run on the owner's thread; the two share only
    `_stop` (an Event). An exception escaping `_loop` is logged and reported as a failure."""

    def __init__(self, name: str, clock: Clock, status: StatusSink | None) -> None:
        self.name = name
        self._clock = clock
        self._status = status
        self._thread = SupervisedThread(name)
        self._stop = self._thread.stop_event
        self.liveness = self._thread.liveness

    def start(self, sink: PacketSink, t0_ns: int | None = None) -> None:
        """Start producing; `t0_ns` (default: now) is the start instant shared by all sources.

        Raises RuntimeError if already started."""
        t0 = self._clock.monotonic_ns() if t0_ns is None else t0_ns
        self._thread.start(lambda: self._run(self.liveness.counting(sink), t0))

    def stop(self) -> None:
        """Stop the thread and join it; safe to call twice."""
        self._thread.stop()

    def _report(self, healthy: bool, detail: str) -> None:
        if self._status is not None:
            self._status(self.name, healthy, detail)

    def _run(self, sink: PacketSink, t0_ns: int) -> None:
        try:
            self._loop(sink, t0_ns)
        except Exception as exc:  # the thread's top: log, tell the daemon the source is broken
            log.exception("source_failed", source=self.name)
            self._report(False, repr(exc))

    def _loop(self, sink: PacketSink, t0_ns: int) -> None:
        raise NotImplementedError

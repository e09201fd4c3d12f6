"""Reconnect supervision shared by the device sources: exponential backoff, one-shot health reports,
the supervised thread, and `ReconnectingSource`, the base of the camera and microphone sources."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import structlog

from recorder.errors import DeviceError
from recorder.sources.base import Liveness, PacketSink, StatusSink

log = structlog.get_logger()


class SourceFault(DeviceError):
    """The device failed or vanished (unplugged, server gone, read time-out); the source reconnects."""


class SourceEnded(DeviceError):
    """The source has nothing more to give (a video file played to its end without `loop`)."""


class Backoff:
    """Delays of `initial_s`, doubling up to `max_s`; `reset()` once the device delivers again.

    Raises ValueError for a non-positive start or a cap below the start.
    """

    def __init__(self, initial_s: float, max_s: float, factor: float = 2.0) -> None:
        if initial_s <= 0 or max_s < initial_s or factor < 1:
            raise ValueError(f"bad backoff: initial {initial_s}, max {max_s}, factor {factor}")
        self._initial = initial_s
        self._max = max_s
        self._factor = factor
        self._next = initial_s

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * self._factor, self._max)
        return delay

    def reset(self) -> None:
        self._next = self._initial


class Health:
    """Tells the daemon about each change of a source's health exactly once.

    Only the source's own thread calls `failed` and `recovered`; the first call of either is always
    reported (a source that never comes up is degraded from the start).
    """

    def __init__(self, name: str, status: StatusSink | None) -> None:
        self._name = name
        self._status = status
        self.healthy: bool | None = None

    def failed(self, detail: str) -> None:
        if self.healthy is False:
            return
        self.healthy = False
        log.warning("source_down", source=self._name, detail=detail)
        if self._status is not None:
            self._status(self._name, False, detail)

    def recovered(self, detail: str) -> None:
        if self.healthy is True:
            return
        was_down = self.healthy is False
        self.healthy = True
        log.info("source_up", source=self._name, detail=detail, after_failure=was_down)
        if self._status is not None:
            self._status(self._name, True, detail)


def supervise(
    name: str,
    stop: threading.Event,
    backoff: Backoff,
    health: Health,
    session: Callable[[], None],
    liveness: Liveness | None = None,
) -> None:
    """Run `session` until `stop` is set, reconnecting after every fault; never raises.

    `session` opens the device, captures until `stop` is set (then returns) and raises SourceFault
    when the device fails, or SourceEnded when there is nothing more to capture. Any other exception
    is a bug, logged with its traceback and handled like a fault, so that capture keeps trying for
    as long as the daemon runs. `liveness` beats at every attempt and excuses the backoff waits.
    """
    alive = liveness or Liveness()
    while not stop.is_set():
        alive.beat()
        try:
            session()
            return
        except SourceEnded as end:
            health.failed(str(end))
            log.info("source_ended", source=name, detail=str(end))
            alive.excuse(math.inf)
            stop.wait()
            return
        except SourceFault as fault:
            health.failed(str(fault))
        except Exception as exc:
            log.exception("source_crashed", source=name)
            health.failed(f"internal error: {exc!r}")
        delay = backoff.next_delay()
        log.info("source_reconnect_scheduled", source=name, delay_s=delay)
        alive.excuse(delay)
        stop.wait(delay)


class SupervisedThread:
    """The one thread of a device source: starts `supervise`, and `stop()` ends and joins it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.stop_event = threading.Event()
        self.liveness = Liveness()
        self._thread: threading.Thread | None = None

    def start(self, target: Callable[[], None]) -> None:
        """Raises RuntimeError if already started."""
        if self._thread is not None:
            raise RuntimeError(f"source {self.name} already started")
        self.stop_event.clear()
        self.liveness.beat()
        self._thread = threading.Thread(target=target, name=f"src-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Wake any backoff wait and join; safe to call twice."""
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


class ReconnectingSource:
    """Base of the device sources (a `MediaSource`): subclasses implement `_session`, which opens the
    device and captures until the stop event is set, and raises SourceFault when the device fails.
    It runs under `supervise` on the source's own thread; `start`/`stop` run on the owner's thread."""

    def __init__(
        self, name: str, status: StatusSink | None, reconnect_initial_s: float, reconnect_max_s: float
    ) -> None:
        self.name = name
        self._health = Health(name, status)
        self._backoff = Backoff(reconnect_initial_s, reconnect_max_s)
        self._thread = SupervisedThread(name)
        self.liveness = self._thread.liveness

    def start(self, sink: PacketSink, t0_ns: int | None = None) -> None:
        """Start capturing; the device is opened on the source's thread.

        `t0_ns` is ignored: packets carry their own capture times. Raises RuntimeError if started.
        """
        stop, alive = self._thread.stop_event, self.liveness
        counted = alive.counting(sink)
        self._thread.start(
            lambda: supervise(
                self.name, stop, self._backoff, self._health, lambda: self._session(counted), alive
            )
        )

    def stop(self) -> None:
        """Stop and join: returns once the device call in progress returns (a camera read within
        `read_timeout_s`, an open within `open_timeout_s`; a PortAudio close within ~0.1 s)."""
        self._thread.stop()

    def _session(self, sink: PacketSink) -> None:
        raise NotImplementedError

"""The incident writer thread: drains the pre-roll, then live packets, into an incident output.

Capture never waits for the disk: `submit` only enqueues. The queue is bounded in bytes; a packet
that does not fit is dropped and counted, and the drop count goes into the incident's audit entry.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import structlog

from recorder import faults
from recorder.packet import Packet

log = structlog.get_logger()


class IncidentOutput(Protocol):
    """Where an incident's packets go (in the daemon: Matroska inside an age file)."""

    def write(self, packet: Packet) -> None: ...

    def close(self) -> dict[str, int]: ...


@dataclass
class WriterResult:
    incident: str
    packets_written: int
    packets_dropped: int
    first_pts_ns: int | None
    last_pts_ns: int | None
    output: dict[str, int]
    error: str | None


_END = object()


class IncidentWriter:
    """Owns one thread. Lock discipline: `_lock` guards `_queued_bytes` and `_dropped`, touched by
    capture threads (`submit`) and the writer thread (after each write)."""

    def __init__(self, incident: str, output: IncidentOutput, queue_bytes: int) -> None:
        """Starts the thread. Raises (e.g. RuntimeError) if it cannot; `output` is then still open."""
        self.incident = incident
        self._output = output
        self._capacity = queue_bytes
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._queued_bytes = 0
        self._dropped = 0
        self._written = 0
        self._first: int | None = None
        self._last: int | None = None
        self._error: str | None = None
        self._aborted = threading.Event()
        self._result: WriterResult | None = None
        self._thread = threading.Thread(target=self._run, name=f"writer-{incident}", daemon=True)
        faults.point("writer.start")
        self._thread.start()

    def submit_pre_roll(self, packets: Iterable[Packet]) -> None:
        """Queue the ring's snapshot; it is decrypted lazily by the writer thread, in order."""
        self._queue.put(packets)

    def submit(self, packet: Packet) -> bool:
        """Queue a live packet without blocking; False (and counted) if the queue is full."""
        size = len(packet.payload)
        with self._lock:
            if self._error is not None or self._queued_bytes + size > self._capacity:
                self._dropped += 1
                dropped = self._dropped
            else:
                self._queued_bytes += size
                dropped = 0
        if dropped:
            if dropped == 1 or dropped % 100 == 0:
                log.warning(
                    "packet_dropped", incident=self.incident, stream=packet.stream.value, dropped=dropped
                )
            return False
        self._queue.put(packet)
        return True

    def finish(self) -> None:
        """Ask the thread to write what is queued, close the output and stop. Does not wait."""
        self._queue.put(_END)

    def abort(self) -> None:
        """Ask the thread to discard what is queued (counted as dropped), close the output and stop.
        For an incident that must not exist (its start was not audited). Does not wait."""
        self._aborted.set()
        self._queue.put(_END)

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    @property
    def failed(self) -> bool:
        with self._lock:
            return self._error is not None

    def join(self, timeout: float | None = None) -> WriterResult | None:
        self._thread.join(timeout)
        return self._result

    def _run(self) -> None:
        """The thread's top: every failure is recorded (the first one wins) and the thread always
        reaches its result, whether writing, sealing the final chunk or closing failed."""
        output_stats: dict[str, int] = {}
        try:
            self._drain()
        except Exception as error:
            self._fail("incident_write_failed", error)
            self._drain()  # the rest is counted as dropped: `_error` is set
        try:
            output_stats = self._output.close()
        except Exception as error:
            self._fail("incident_close_failed", error)
        with self._lock:
            self._result = WriterResult(
                self.incident,
                self._written,
                self._dropped,
                self._first,
                self._last,
                output_stats,
                self._error,
            )

    def _drain(self) -> None:
        """Write (or, after a failure or an abort, discard) everything queued until the end marker."""
        while (item := self._queue.get()) is not _END:
            packets = [item] if isinstance(item, Packet) else item
            for packet in packets:  # type: ignore[attr-defined]
                if isinstance(item, Packet):
                    with self._lock:
                        self._queued_bytes -= len(packet.payload)
                if self._error is not None or self._aborted.is_set():
                    with self._lock:
                        self._dropped += 1
                else:
                    self._write(packet)

    def _fail(self, event: str, error: Exception) -> None:
        log.error(event, incident=self.incident, error=f"{type(error).__name__}: {error}")
        with self._lock:
            if self._error is None:
                self._error = f"{type(error).__name__}: {error}"

    def _write(self, packet: Packet) -> None:
        try:
            self._output.write(packet)
        except BaseException:
            with self._lock:
                self._dropped += 1  # the packet that failed is lost too
            raise
        self._written += 1
        if self._first is None:
            self._first = packet.pts_ns
        self._last = packet.pts_ns

"""The seam between capture and storage: each packet goes to the ring or to the open incident.

Lock discipline: `_lock` is taken by every capture thread (`on_packet`) and by the control thread
(`start_incident`, `end_incident`, `tick`). Because the switch from ring to incident happens under
the same lock as every packet's routing, no packet is lost or duplicated across the trigger.
"""

from __future__ import annotations

import threading

import structlog

from recorder.clock import NS_PER_S, Clock
from recorder.incident.writer import IncidentWriter
from recorder.packet import Packet, StreamKind
from recorder.ring import EncryptedRing, RingSnapshot

RING_REPORT_S = 2.0
"""How often `tick` logs the ring's size (`ring_occupancy`, debug level: `recorder --log-level debug`)."""

log = structlog.get_logger()


class PacketRouter:
    def __init__(self, ring: EncryptedRing, clock: Clock, audio_in_pre_roll: bool) -> None:
        self._ring = ring
        self._clock = clock
        self._audio_in_pre_roll = audio_in_pre_roll
        self._lock = threading.Lock()
        self._writer: IncidentWriter | None = None
        self._next_report_ns = 0

    def on_packet(self, packet: Packet) -> None:
        """Called from capture threads. Never blocks on disk."""
        with self._lock:
            if self._writer is not None:
                self._writer.submit(packet)
            elif packet.stream is StreamKind.VIDEO or self._audio_in_pre_roll:
                self._ring.append(packet, self._clock.monotonic_ns())

    def start_incident(self, writer: IncidentWriter) -> RingSnapshot:
        """Hand the ring to the writer and send every later packet to it, in one atomic step.

        Returns the snapshot (already queued to the writer) so the caller can audit its stats.
        """
        with self._lock:
            snapshot = self._ring.hand_over(self._clock.monotonic_ns())
            writer.submit_pre_roll(snapshot)
            self._writer = writer
            return snapshot

    def end_incident(self) -> IncidentWriter | None:
        """Stop sending packets to the writer; from now on they go to the ring again."""
        with self._lock:
            writer, self._writer = self._writer, None
            return writer

    def tick(self) -> None:
        """Evict expired packets and rotate keys even when no packet arrives (e.g. camera gone);
        every RING_REPORT_S, log the ring's size at debug level."""
        with self._lock:
            now = self._clock.monotonic_ns()
            self._ring.evict(now)
            if now < self._next_report_ns:
                return
            self._next_report_ns = now + round(RING_REPORT_S * NS_PER_S)
            size, packets = self._ring.size_bytes, len(self._ring)
        log.debug("ring_occupancy", bytes=size, packets=packets)

    def shutdown(self) -> None:
        with self._lock:
            self._ring.clear()

"""The router's ring report: a debug event with the ring's size, at most every RING_REPORT_S."""

from __future__ import annotations

from structlog.testing import capture_logs

from recorder.clock import ManualClock
from recorder.packet import Packet, StreamKind
from recorder.ring import EncryptedRing
from recorder.router import RING_REPORT_S, PacketRouter
from recorder.secure_memory import KeyVault


def test_tick_reports_the_ring_size_at_debug_level_every_few_seconds() -> None:
    clock = ManualClock()
    router = PacketRouter(EncryptedRing(KeyVault(), 30.0, 10**9, 1.0), clock, audio_in_pre_roll=True)
    router.on_packet(Packet(StreamKind.VIDEO, clock.monotonic_ns(), 0.0, 0, bytes(1000), 64, 48))
    with capture_logs() as logs:
        for _ in range(round(3 * RING_REPORT_S / 0.2)):  # the daemon ticks every 200 ms
            router.tick()
            clock.advance(0.2)
    reports = [e for e in logs if e["event"] == "ring_occupancy"]
    assert len(reports) == 3
    assert {e["log_level"] for e in reports} == {"debug"}
    assert reports[0]["bytes"] == 1000 + 16  # ciphertext and tag
    assert reports[0]["packets"] == 1
    router.shutdown()

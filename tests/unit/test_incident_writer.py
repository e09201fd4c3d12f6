"""The incident writer never blocks capture: a slow disk fills a bounded queue, then packets drop
(counted). The slow disk is a stand-in output that sleeps: this machine's disk cannot be made slow."""

from __future__ import annotations

import time

from recorder.incident.writer import IncidentWriter
from recorder.packet import Packet, StreamKind


class SlowOutput:
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.seqs: list[int] = []

    def write(self, packet: Packet) -> None:
        time.sleep(self.delay_s)
        self.seqs.append(packet.seq)

    def close(self) -> dict[str, int]:
        return {"written": len(self.seqs)}


class FailingOutput(SlowOutput):
    def write(self, packet: Packet) -> None:
        if packet.seq == 3:
            raise OSError(28, "No space left on device")
        super().write(packet)


def _packet(seq: int, size: int = 10_000) -> Packet:
    return Packet(StreamKind.VIDEO, seq * 66_000_000, 0.0, seq, bytes(size))


def test_slow_disk_never_blocks_submit_and_drops_are_counted() -> None:
    output = SlowOutput(delay_s=0.02)
    writer = IncidentWriter("slow", output, queue_bytes=100_000)
    worst = 0.0
    accepted = 0
    for seq in range(200):
        started = time.perf_counter()
        accepted += writer.submit(_packet(seq))
        worst = max(worst, time.perf_counter() - started)
    writer.finish()
    result = writer.join(timeout=30)
    assert result is not None
    assert worst < 0.01  # submit only enqueues
    assert result.packets_dropped == 200 - accepted > 0
    assert result.packets_written == accepted == len(output.seqs)
    assert output.seqs == sorted(output.seqs)


def test_pre_roll_is_written_before_live_packets() -> None:
    output = SlowOutput(delay_s=0)
    writer = IncidentWriter("order", output, queue_bytes=10**7)
    writer.submit_pre_roll(_packet(seq) for seq in range(10))
    for seq in range(10, 20):
        writer.submit(_packet(seq))
    writer.finish()
    writer.join(timeout=10)
    assert output.seqs == list(range(20))


def test_disk_error_fails_the_incident_but_not_the_caller() -> None:
    output = FailingOutput(delay_s=0)
    writer = IncidentWriter("full", output, queue_bytes=10**7)
    for seq in range(10):
        writer.submit(_packet(seq))
    writer.finish()
    result = writer.join(timeout=10)
    assert result is not None
    assert result.error is not None and "No space left" in result.error
    assert result.packets_written == 3
    assert result.packets_written + result.packets_dropped == 10


class FailingCloseOutput(SlowOutput):
    def close(self) -> dict[str, int]:
        raise OSError(28, "No space left on device")  # sealing the final chunk: the disk is full


def test_failure_to_seal_the_final_chunk_ends_the_writer_with_the_error() -> None:
    writer = IncidentWriter("close-full", FailingCloseOutput(delay_s=0), queue_bytes=10**7)
    for seq in range(5):
        writer.submit(_packet(seq))
    writer.finish()
    result = writer.join(timeout=5)
    assert writer.done, "the writer thread hangs after close() failed"
    assert result is not None
    assert result.error is not None and "No space left" in result.error
    assert result.packets_written == 5


def test_abort_writes_nothing_more_and_closes_the_output() -> None:
    output = SlowOutput(delay_s=0.05)
    writer = IncidentWriter("abort", output, queue_bytes=10**7)
    for seq in range(40):
        writer.submit(_packet(seq))
    writer.abort()
    result = writer.join(timeout=5)
    assert writer.done and result is not None
    assert len(output.seqs) < 40  # the queue was discarded, not written
    assert result.packets_written + result.packets_dropped == 40

"""Microphone timestamps (AudioClock); the source's queue, faults and reconnects on a fake stack."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from recorder.clock import SystemClock
from recorder.config import AudioConfig
from recorder.packet import Packet
from recorder.sources.audio_clock import AudioClock, Block, SlidingMin
from recorder.sources.microphone import BlockCallback, MicrophoneSource
from recorder.sources.reconnect import SourceFault

NS = 1_000_000_000
MS = 1_000_000
FRAMES = 960
BLOCK_NS = 20 * MS
STREAM_OFFSET = 1_800_000_000 * NS  # PortAudio's clock here is CLOCK_REALTIME, far from CLOCK_MONOTONIC


def _blocks(
    count: int,
    *,
    adc: bool = True,
    latency: Callable[[int], int] = lambda i: 0,
    period_ns: float = BLOCK_NS,
    t0: int = 50 * NS,
) -> Iterator[tuple[int, Block]]:
    """(true capture time, block) pairs; block i is captured at t0 + i * period and arrives after its
    last sample plus `latency(i)`."""
    for i in range(count):
        start = t0 + round(i * period_ns)
        arrival = start + round(period_ns) + latency(i)
        adc_ns = start + STREAM_OFFSET if adc else 0
        now_ns = arrival + STREAM_OFFSET if adc else 0
        yield start, Block(b"", FRAMES, arrival, adc_ns, now_ns)


def _errors_ms(clock: AudioClock, blocks: Iterator[tuple[int, Block]]) -> list[float]:
    return [(clock.stamp(block) - truth) / MS for truth, block in blocks]


def test_sliding_min_forgets_old_values() -> None:
    window = SlidingMin(10)
    pushes = [(0, 5), (1, 7), (2, 3), (5, 4), (13, 9), (16, 8)]
    assert [window.push(t, v) for t, v in pushes] == [5, 5, 3, 3, 4, 8]


def test_adc_time_is_mapped_onto_the_daemon_clock_despite_callback_jitter() -> None:
    rng = np.random.default_rng(2)
    errors = _errors_ms(AudioClock(use_adc=True), _blocks(500, latency=lambda i: int(rng.uniform(0, 8) * MS)))
    assert max(abs(e) for e in errors) < 0.5


def test_blocks_delivered_in_two_second_bursts_keep_their_capture_times() -> None:
    # PulseAudio's sine source hands over 2 s (100 blocks) at once: block i arrives at its burst's end.
    errors = _errors_ms(AudioClock(use_adc=True), _blocks(500, latency=lambda i: (99 - i % 100) * BLOCK_NS))
    assert max(abs(e) for e in errors) < 0.5


def test_an_adc_time_later_than_the_block_could_have_arrived_is_not_believed() -> None:
    # PulseAudio's interpolated latency makes ADC times wander late by up to ~15 ms.
    clock = AudioClock(use_adc=True)
    errors = []
    for i, (truth, block) in enumerate(_blocks(1000, latency=lambda i: MS)):
        late = int(8 * MS * (1 + np.sin(i / 40)))
        wandering = Block(b"", FRAMES, block.arrival_ns, block.adc_ns + late, block.stream_now_ns)
        errors.append((clock.stamp(wandering) - truth) / MS)
    assert all(0 <= e < 1.5 for e in errors[250:])


def test_arrival_mode_finds_the_earliest_arrival() -> None:
    rng = np.random.default_rng(3)
    errors = _errors_ms(
        AudioClock(use_adc=False), _blocks(500, latency=lambda i: int((0.5 + rng.uniform(0, 5)) * MS))
    )
    assert all(0 <= e < 1.5 for e in errors[100:])


def test_missing_adc_time_falls_back_to_arrival() -> None:
    clock = AudioClock(use_adc=True)
    errors = _errors_ms(clock, _blocks(200, adc=False, latency=lambda i: MS))
    assert clock.mode == "arrival"
    assert all(abs(e - 1) < 0.5 for e in errors[50:])


@pytest.mark.parametrize("use_adc", [True, False])
def test_a_device_clock_100_ppm_fast_is_followed_for_ten_minutes(use_adc: bool) -> None:
    blocks = _blocks(30_000, period_ns=BLOCK_NS * (1 - 100e-6), latency=lambda i: (i * 7919) % 3 * MS)
    errors = _errors_ms(AudioClock(use_adc=use_adc), blocks)
    assert max(abs(e) for e in errors[500:]) < 3


def test_a_step_of_the_stream_clock_does_not_move_the_timestamps() -> None:
    clock = AudioClock(use_adc=True)
    errors = []
    for i, (truth, block) in enumerate(_blocks(600)):
        if i >= 300:  # CLOCK_REALTIME stepped by NTP: both stream times jump by 10 s
            step = 10 * NS
            block = Block(b"", FRAMES, block.arrival_ns, block.adc_ns + step, block.stream_now_ns + step)
        errors.append((clock.stamp(block) - truth) / MS)
    assert max(abs(e) for e in errors) < 0.5


def test_frames_we_dropped_are_skipped_on_the_timeline() -> None:
    clock = AudioClock(use_adc=False)
    items = list(_blocks(300, adc=False))
    pts = [clock.stamp(block) for _, block in items[:100]]
    truth, block = items[103]  # blocks 100..102 were dropped on a full queue
    after_gap = Block(b"", FRAMES, block.arrival_ns, dropped_frames=3 * FRAMES)
    assert abs(clock.stamp(after_gap) - truth) < MS
    assert pts == sorted(set(pts))


def test_timestamps_never_go_back() -> None:
    clock = AudioClock(use_adc=True)
    rng = np.random.default_rng(4)
    blocks = _blocks(2000, latency=lambda i: int(rng.uniform(0, 30) * MS))
    pts = []
    for _truth, block in blocks:
        adc = block.adc_ns + int(rng.normal(0, 3) * MS)
        pts.append(clock.stamp(Block(b"", FRAMES, block.arrival_ns, adc, block.stream_now_ns)))
    assert all(b > a for a, b in itertools.pairwise(pts))


# -- the source, on a fake sound stack ------------------------------------------------------------


class FakeStream:
    def __init__(self) -> None:
        self.active = True

    def close(self) -> None:
        self.active = False


class FakeBackend:
    """Opens fake streams; the test plays PortAudio's thread by calling the callback."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.opened: list[tuple[FakeStream, BlockCallback]] = []
        self.opened_at: list[float] = []
        self.lock = threading.Lock()

    def open(self, device: str, blocksize: int, callback: BlockCallback) -> tuple[FakeStream, str]:
        with self.lock:
            if self.failures:
                self.failures -= 1
                raise SourceFault("no such device")
            stream = FakeStream()
            self.opened_at.append(time.time())
            self.opened.append((stream, callback))
            return stream, "fake microphone"


class Harness:
    def __init__(self, backend: FakeBackend, **config: object) -> None:
        fields = {"source": "microphone", "reconnect_initial_s": 0.05, "reconnect_max_s": 0.1, **config}
        self.backend = backend
        self.packets: list[Packet] = []
        self.statuses: list[tuple[bool, str]] = []
        self.losses: list[tuple[str, int]] = []
        self.source = MicrophoneSource(
            AudioConfig.model_validate(fields), SystemClock(), status=self._status, backend=backend
        )

    def _status(self, _name: str, ok: bool, detail: str, lost: int = 0) -> None:
        if lost:
            self.losses.append((detail, lost))
        else:
            self.statuses.append((ok, detail))

    def wait(self, predicate: Callable[[], bool], what: str, timeout_s: float = 3) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.01)

    def feed(self, stream_index: int, count: int) -> None:
        """A burst of `count` blocks captured during the last `count` * 20 ms (on CLOCK_REALTIME),
        all after the stream was opened."""
        _, callback = self.backend.opened[stream_index]
        time.sleep(max(0.0, self.backend.opened_at[stream_index] + count * 0.02 + 0.005 - time.time()))
        now = time.time()
        for i in range(count):
            pcm = np.full(FRAMES, i, dtype=np.int16).tobytes()
            callback(pcm, FRAMES, now - (count - i) * 0.02, now, False)


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = Harness(FakeBackend())
    yield h
    h.source.stop()


def test_blocks_become_packets_and_the_source_reports_itself_up(harness: Harness) -> None:
    harness.source.start(harness.packets.append)
    harness.wait(lambda: len(harness.backend.opened) == 1, "the stream")
    harness.feed(0, 10)
    harness.wait(lambda: len(harness.packets) == 10, "10 packets")
    assert [p.seq for p in harness.packets] == list(range(10))
    assert harness.packets[3].payload == np.full(FRAMES, 3, dtype=np.int16).tobytes()
    assert harness.statuses == [(True, "fake microphone")]


def test_a_stopped_stream_is_reported_and_reopened(harness: Harness) -> None:
    harness.source.start(harness.packets.append)
    harness.wait(lambda: len(harness.backend.opened) == 1, "the stream")
    harness.feed(0, 5)
    harness.wait(lambda: len(harness.packets) == 5, "packets")
    harness.backend.opened[0][0].active = False  # the device vanished
    harness.wait(lambda: len(harness.backend.opened) == 2, "a reopened stream")
    harness.feed(1, 5)
    harness.wait(lambda: len(harness.packets) == 10, "packets after reopening")
    assert [ok for ok, _ in harness.statuses] == [True, False, True]
    pts = [p.pts_ns for p in harness.packets]
    assert pts == sorted(pts)


def test_silence_longer_than_the_read_timeout_is_a_failure() -> None:
    h = Harness(FakeBackend(), read_timeout_s=0.2)
    h.source.start(h.packets.append)
    try:
        h.wait(lambda: len(h.backend.opened) >= 2, "a reopen after silence")
    finally:
        h.source.stop()
    assert h.statuses[0] == (False, h.statuses[0][1]) and "no audio" in h.statuses[0][1]


def test_a_missing_device_degrades_until_it_appears() -> None:
    h = Harness(FakeBackend(failures=2))
    h.source.start(h.packets.append)
    try:
        h.wait(lambda: len(h.backend.opened) == 1, "the third attempt")
        h.feed(0, 3)
        h.wait(lambda: len(h.packets) == 3, "packets")
    finally:
        h.source.stop()
    assert h.statuses == [(False, "no such device"), (True, "fake microphone")]


def test_a_full_queue_drops_and_counts_blocks() -> None:
    release, in_sink = threading.Event(), threading.Event()
    h = Harness(FakeBackend(), queue_blocks=8)

    def slow_sink(packet: Packet) -> None:
        in_sink.set()
        release.wait(5)
        h.packets.append(packet)

    h.source.start(slow_sink)
    try:
        h.wait(lambda: len(h.backend.opened) == 1, "the stream")
        h.feed(0, 1)
        h.wait(in_sink.is_set, "the first block in the sink")
        h.feed(0, 19)
        release.set()
        h.wait(lambda: len(h.packets) == 9, "the queued packets")
    finally:
        h.source.stop()
    assert h.source.blocks_dropped == 11
    assert sum(lost for why, lost in h.losses if why.startswith("audio blocks dropped")) == 11


def test_blocks_dated_before_their_stream_was_opened_are_dropped(harness: Harness) -> None:
    harness.source.start(harness.packets.append)
    harness.wait(lambda: len(harness.backend.opened) == 1, "the stream")
    harness.feed(0, 50)
    harness.wait(lambda: len(harness.packets) == 50, "packets")
    harness.backend.opened[0][0].active = False
    harness.wait(lambda: len(harness.backend.opened) == 2, "a reopened stream")
    _, callback = harness.backend.opened[1]
    now = time.time()
    for i in range(100):  # a stack that dates its first blocks up to 2 s before the reopening
        callback(b"\x00\x00" * FRAMES, FRAMES, now - 2.0 + i * 0.02, now, False)
    harness.wait(lambda: harness.source.stale_blocks + len(harness.packets) >= 150, "all blocks handled")
    assert harness.source.stale_blocks > 0
    ends = [(p.pts_ns, p.pts_ns + p.duration_ns) for p in harness.packets]
    overlaps = [prev_end - start for (_, prev_end), (start, _) in itertools.pairwise(ends)]
    assert max(overlaps) <= 1000  # ns: rounding only


def test_the_module_does_not_load_portaudio_until_a_microphone_is_opened() -> None:
    code = (
        "import sys; import recorder.sources.factory, recorder.sources.microphone; "
        "assert 'sounddevice' not in sys.modules"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0

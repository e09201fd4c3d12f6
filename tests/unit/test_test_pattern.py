"""The built-in test pattern: machine-readable frame numbers, sync marker, and real-time pacing."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from recorder.clock import ManualClock, SystemClock
from recorder.packet import Packet, StreamKind
from recorder.sources.test_pattern import (
    TestPatternConfig,
    TestPatternSource,
    decode_frame_number,
    encode_jpeg,
    frame_offset_ns,
    frames_from,
    has_sync_marker,
    render_frame,
)

SMALL = TestPatternConfig(width=320, height=240, fps=15.0)


@pytest.mark.parametrize("n", [0, 1, 5, 255, 2**20 + 5, 2**31 + 7, 2**32 - 1])
@pytest.mark.parametrize("config", [SMALL, TestPatternConfig()], ids=["320x240", "1280x720"])
def test_frame_number_round_trips_through_jpeg_q50(config: TestPatternConfig, n: int) -> None:
    jpeg = encode_jpeg(render_frame(config, n, 123_456_789), quality=50)
    assert decode_frame_number(jpeg) == n


def test_frame_number_reads_from_bgr_and_gray_arrays() -> None:
    img = render_frame(SMALL, 4242, 0)
    assert decode_frame_number(img) == 4242
    assert decode_frame_number(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)) == 4242


def test_undecodable_bytes_raise_value_error() -> None:
    with pytest.raises(ValueError):
        decode_frame_number(b"not a jpeg")


def test_sync_marker_only_in_first_frame_interval_of_each_second() -> None:
    packets = list(frames_from(SMALL, t0_ns=7_000_000_000, count=46))
    marked = [p.seq for p in packets if has_sync_marker(p.payload)]
    assert marked == [0, 15, 30, 45]


def test_sync_marker_follows_capture_time_not_frame_number() -> None:
    late_but_in_window = render_frame(SMALL, 14, 1_000_000_000 + 60_000_000)
    just_after_window = render_frame(SMALL, 15, 1_000_000_000 + 67_000_000)
    assert has_sync_marker(encode_jpeg(late_but_in_window, 50))
    assert not has_sync_marker(encode_jpeg(just_after_window, 50))


def test_frames_from_is_on_schedule_without_drift() -> None:
    packets = list(frames_from(SMALL, t0_ns=0, count=3, first=15 * 3600))
    assert [p.pts_ns for p in packets] == [frame_offset_ns(n, 15.0) for n in range(54000, 54003)]
    assert packets[0].pts_ns == 3600 * 1_000_000_000
    assert all(p.stream is StreamKind.VIDEO and (p.width, p.height) == (320, 240) for p in packets)


def test_720p_frame_generate_and_encode_is_well_under_10_ms() -> None:
    config = TestPatternConfig()
    list(frames_from(config, 0, 2))  # warm up the cached background
    start = time.perf_counter()
    list(frames_from(config, 0, 30))
    per_frame_ms = (time.perf_counter() - start) / 30 * 1000
    assert per_frame_ms < 10


def test_config_rejects_frames_too_small_for_the_marks() -> None:
    with pytest.raises(ValueError):
        TestPatternConfig(width=32, height=240)


def test_thread_produces_fps_frames_per_second_with_contiguous_seq() -> None:
    config = TestPatternConfig(width=320, height=240, fps=30.0)
    source = TestPatternSource(config, SystemClock())
    got: list[Packet] = []
    source.start(got.append)
    time.sleep(1.0)
    source.stop()
    assert 28 <= len(got) <= 32
    assert [p.seq for p in got] == list(range(len(got)))
    assert [decode_frame_number(p.payload) for p in got[:3]] == [0, 1, 2]
    steps_ms = np.diff([p.pts_ns for p in got]) / 1e6
    assert abs(float(np.mean(steps_ms)) - 1000 / 30) < 2
    assert source.frames_skipped == 0


def test_frames_are_stamped_from_the_given_t0() -> None:
    clock = SystemClock()
    t0 = clock.monotonic_ns() + 100_000_000
    source = TestPatternSource(SMALL, clock)
    got: list[Packet] = []
    source.start(got.append, t0_ns=t0)
    time.sleep(0.3)
    source.stop()
    assert got
    assert got[0].pts_ns >= t0
    assert got[0].pts_ns - t0 < 30_000_000


def test_a_late_source_skips_frames_instead_of_drifting_and_reports_them_lost() -> None:
    clock = ManualClock()
    losses: list[int] = []
    source = TestPatternSource(SMALL, clock, status=lambda _n, _ok, _detail, lost=0: losses.append(lost))
    got: list[Packet] = []
    first = threading.Event()

    def sink(packet: Packet) -> None:
        got.append(packet)
        first.set()

    source.start(sink)
    assert first.wait(5)
    clock.advance(1.0)  # 15 frame intervals pass at once
    deadline = time.monotonic() + 5
    while len(got) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    source.stop()
    assert [p.seq for p in got] == [0, 15]
    assert source.frames_skipped == 14 and losses == [14]


def test_a_failing_sink_reports_the_source_unhealthy() -> None:
    reports: list[tuple[str, bool, str]] = []
    done = threading.Event()

    def status(name: str, healthy: bool, detail: str) -> None:
        reports.append((name, healthy, detail))
        done.set()

    def sink(packet: Packet) -> None:
        raise RuntimeError("ring gone")

    source = TestPatternSource(SMALL, SystemClock(), status=status)
    source.start(sink)
    assert done.wait(5)
    source.stop()
    assert reports[0][:2] == ("test-pattern", False)
    assert "ring gone" in reports[0][2]


def test_stop_is_idempotent_and_start_twice_is_refused() -> None:
    source = TestPatternSource(SMALL, SystemClock())
    source.start(lambda p: None)
    with pytest.raises(RuntimeError):
        source.start(lambda p: None)
    source.stop()
    source.stop()

"""Camera frame timing: bursts after a stall are kept and keep their spacing; losses are counted."""

from __future__ import annotations

import itertools

import pytest

from recorder.sources.frame_timing import FrameClock, RateMeter, missing_frames
from recorder.sources.losses import LossReport
from tests.unit.test_source_camera import PERIOD, burst_after_stall

MS = 1_000_000


def test_trusted_camera_times_space_a_burst_as_it_was_captured() -> None:
    clock = FrameClock(trust_media=True)
    times = burst_after_stall(250)
    stamps = [clock.stamp(arrival, capture - 3 * MS) for arrival, capture in times]
    steps = [b - a for a, b in itertools.pairwise(stamps)]
    assert all(abs(step - PERIOD) <= MS for step in steps)
    assert all(stamp <= arrival for stamp, (arrival, _) in zip(stamps, times, strict=True))


def test_arrival_times_keep_frames_apart_and_in_order() -> None:
    clock = FrameClock(trust_media=False)
    stamps = [clock.stamp(arrival, None) for arrival, _ in burst_after_stall(250)]
    assert all(b - a >= FrameClock.MIN_GAP_NS for a, b in itertools.pairwise(stamps))


def test_two_frames_read_in_the_same_instant_get_different_times() -> None:
    clock = FrameClock(trust_media=True)
    assert clock.stamp(5 * MS, 0) < clock.stamp(5 * MS, 0) < clock.stamp(5 * MS, None)


def test_a_camera_clock_that_jumps_back_is_re_anchored() -> None:
    clock = FrameClock(trust_media=True)
    for n in range(10):
        clock.stamp(1000 * MS + n * PERIOD, n * PERIOD)
    looped = clock.stamp(1000 * MS + 10 * PERIOD, 0)  # a file starting over
    assert looped == 1000 * MS + 10 * PERIOD and clock.step_ns == 0


def test_made_up_camera_times_are_not_trusted() -> None:
    """An HTTP MJPEG stream at 15 fps whose timestamps OpenCV makes up at a guessed 25 fps."""
    honest, made_up = RateMeter(), RateMeter()
    for n in range(60):
        arrival = n * PERIOD
        honest.tick(arrival, n * PERIOD + 7 * MS)
        made_up.tick(arrival, n * 40 * MS)
    assert honest.media_agrees and not made_up.media_agrees


@pytest.mark.parametrize(
    ("step", "missing"), [(PERIOD, 0), (3 * PERIOD // 2, 0), (2 * PERIOD, 1), (6 * PERIOD, 5)]
)
def test_a_gap_in_the_camera_times_counts_the_frames_it_skipped(step: int, missing: int) -> None:
    assert missing_frames(step, PERIOD) == missing


def test_losses_are_reported_at_most_once_a_second_and_at_the_end() -> None:
    reports: list[tuple[str, int]] = []

    def status(_name: str, healthy: bool, detail: str, lost: int = 0) -> None:
        assert healthy
        reports.append((detail, lost))

    losses = LossReport("camera", status)
    for n in range(10):
        losses.add(2, "skipped", n * 100 * MS)
    assert reports == [("skipped", 2)]
    losses.add(1, "skipped", 1000 * MS)
    assert reports == [("skipped", 2), ("skipped", 19)]
    losses.add(3, "overflow", 1100 * MS)
    losses.flush(1100 * MS, force=True)
    assert reports[-1] == ("overflow", 3) and losses.total == 24

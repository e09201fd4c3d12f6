"""The daemon's guard against wall-clock steps (retention's trust in the clock)."""

from __future__ import annotations

from recorder.clock import ManualClock
from recorder.clock_watch import STEP_TOLERANCE_S, ClockWatch

DAY_S = 86_400


class SteppableClock(ManualClock):
    """A manual clock whose wall time can also step on its own, as `date -s` makes it."""

    def step_wall(self, seconds: float) -> None:
        with self._lock:
            self._wall_offset += seconds


def test_a_forward_step_is_a_problem_until_the_clock_is_back_in_line() -> None:
    clock = SteppableClock()
    watch = ClockWatch(clock, synchronized=lambda: False)
    clock.advance(3600)
    assert watch.check() is None
    clock.step_wall(30 * DAY_S)
    problem = watch.check()
    assert problem is not None and "stepped 30.0 days forward" in problem
    clock.step_wall(-30 * DAY_S)
    assert watch.check() is None


def test_slewing_and_small_or_backward_steps_are_not_problems() -> None:
    clock = SteppableClock()
    watch = ClockWatch(clock, synchronized=lambda: None)
    clock.advance(30 * DAY_S)
    clock.step_wall(30 * DAY_S * 500e-6)  # NTP's fastest slew for 30 days
    clock.step_wall(STEP_TOLERANCE_S - 1)
    assert watch.check() is None
    clock.step_wall(-10 * DAY_S)
    assert watch.check() is None


def test_a_step_to_a_synchronized_clock_is_accepted_and_anchors_anew() -> None:
    synchronized = [False]
    clock = SteppableClock()
    watch = ClockWatch(clock, synchronized=lambda: synchronized[0])
    clock.step_wall(3 * DAY_S)  # a box without an RTC started days behind; NTP's first sync
    assert watch.check() is not None
    synchronized[0] = True
    assert watch.check() is None
    synchronized[0] = False
    assert watch.check() is None  # the new anchor: no step since

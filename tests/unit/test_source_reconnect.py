"""Backoff, one-shot health reports and the reconnect loop shared by the device sources."""

from __future__ import annotations

import threading
import time

import pytest

from recorder.errors import DeviceError
from recorder.sources.reconnect import (
    Backoff,
    Health,
    SourceEnded,
    SourceFault,
    SupervisedThread,
    supervise,
)


def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(0.5, 3.0)
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


@pytest.mark.parametrize(("initial", "cap"), [(0.0, 1.0), (2.0, 1.0), (-1.0, 1.0)])
def test_backoff_refuses_nonsense(initial: float, cap: float) -> None:
    with pytest.raises(ValueError):
        Backoff(initial, cap)


def test_faults_are_device_errors() -> None:
    assert issubclass(SourceFault, DeviceError) and issubclass(SourceEnded, DeviceError)


def test_health_reports_each_change_once() -> None:
    reports: list[tuple[str, bool, str]] = []
    health = Health("camera", lambda *r: reports.append(r))
    health.failed("gone")
    health.failed("still gone")
    health.recovered("back")
    health.recovered("still back")
    health.failed("gone again")
    assert reports == [("camera", False, "gone"), ("camera", True, "back"), ("camera", False, "gone again")]


def test_first_success_is_reported_too() -> None:
    reports: list[tuple[str, bool, str]] = []
    Health("mic", lambda *r: reports.append(r)).recovered("up")
    assert reports == [("mic", True, "up")]


class _Script:
    """A session that raises the scripted outcomes in turn, then waits for stop."""

    def __init__(self, stop: threading.Event, outcomes: list[BaseException | None]) -> None:
        self.stop = stop
        self.outcomes = outcomes
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        self.stop.wait()


def _run(outcomes: list[BaseException | None], seconds: float) -> tuple[_Script, list[tuple[str, bool, str]]]:
    stop = threading.Event()
    reports: list[tuple[str, bool, str]] = []
    script = _Script(stop, outcomes)
    health = Health("cam", lambda *r: reports.append(r))
    thread = threading.Thread(target=supervise, args=("cam", stop, Backoff(0.01, 0.02), health, script))
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join(2)
    assert not thread.is_alive()
    return script, reports


def test_faults_and_crashes_are_retried_until_stopped() -> None:
    script, reports = _run([SourceFault("gone"), RuntimeError("bug"), None], 0.3)
    assert script.calls == 3
    assert [r[1] for r in reports] == [False]
    assert "internal error" not in reports[0][2]


def test_an_ended_source_is_reported_and_not_restarted() -> None:
    script, reports = _run([SourceEnded("end of video file")], 0.2)
    assert script.calls == 1
    assert reports == [("cam", False, "end of video file")]


def test_supervised_thread_stop_wakes_a_waiting_target_and_joins() -> None:
    thread = SupervisedThread("x")

    def target() -> None:
        thread.stop_event.wait(30)

    thread.start(target)
    with pytest.raises(RuntimeError):
        thread.start(lambda: None)
    started = time.monotonic()
    thread.stop()
    thread.stop()
    assert time.monotonic() - started < 1

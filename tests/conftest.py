"""Shared fixtures: a real room (keys, enrolment, config) and a real daemon process."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from recorder.demo import DemoRoom, set_up_room
from recorder.i18n import set_language
from tests.support import RunningDaemon, start_daemon

# The messages are checked in English: the commands' default is Dutch (or the environment's language).
# LANGUAGE wins over LC_ALL and LANG for gettext and for `recorder`; subprocesses inherit it. Tests of
# the language choice itself set their own environment.
os.environ["LANGUAGE"] = "en"
set_language("en")


@pytest.fixture
def room(tmp_path: Path) -> DemoRoom:
    return set_up_room(tmp_path, pre_roll_s=2.0, post_roll_s=1.0)


@pytest.fixture
def daemon(room: DemoRoom) -> Iterator[RunningDaemon]:
    running = start_daemon(room)
    yield running
    running.stop()


@pytest.fixture
def tk_garbage_on_main_thread() -> Iterator[None]:
    """For tests that create Tk roots in this process: Tcl aborts the process ("Fatal Python error:
    Aborted") when a Tk interpreter is freed on a thread other than the one that made it, and the
    cyclic garbage collector runs on whichever thread happens to allocate (ZeroMQ and worker threads
    here). So collection is off during the test and done here, on the main thread."""
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        gc.enable()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI (`CI=true`) a skipped test is a failure: the quick start installs every real part the
    tests need (age, ffmpeg, PulseAudio, strace, GStreamer, Xvfb), so a skip means a proof did not run."""
    if os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and exitstatus == pytest.ExitCode.OK:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; in CI every test must run", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

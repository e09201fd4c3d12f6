"""Shared fixtures: a real room (keys, enrolment, config) and a real daemon process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from recorder.demo import DemoRoom, set_up_room
from tests.support import RunningDaemon, start_daemon


@pytest.fixture
def room(tmp_path: Path) -> DemoRoom:
    return set_up_room(tmp_path, pre_roll_s=2.0, post_roll_s=1.0)


@pytest.fixture
def daemon(room: DemoRoom) -> Iterator[RunningDaemon]:
    running = start_daemon(room)
    yield running
    running.stop()

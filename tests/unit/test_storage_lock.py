"""The daemon's lock on its storage directory: a second holder is refused with the first one's pid;
the lock goes with the process (nothing to clean after a crash)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from recorder.config import load_config
from recorder.demo import set_up_room
from recorder.errors import ConfigError
from recorder.storage_lock import DaemonLock, holder, lock_files


def test_a_second_lock_on_the_same_storage_is_refused_naming_the_holder(tmp_path: Path) -> None:
    config = load_config(set_up_room(tmp_path).config)
    config.storage.directory.mkdir(mode=0o700)
    first = DaemonLock(config)
    try:
        with pytest.raises(ConfigError, match=f"in use by another daemon \\(pid {os.getpid()} holds"):
            DaemonLock(config)
        assert [holder(path) for _, path in lock_files(config)] == [os.getpid()]
    finally:
        first.release()
    assert [holder(path) for _, path in lock_files(config)] == [None]
    DaemonLock(config).release()  # free again once released

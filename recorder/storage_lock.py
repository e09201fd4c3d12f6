"""One daemon per storage directory and audit log: an exclusive lock held for the daemon's life.

Two daemons on one storage directory (two rooms' configs copied without changing `storage.directory`,
or `recorder run` by hand beside the unit) would each take the other's running start for a crash:
`daemon_recovered` and `incident_interrupted` written for a recording that is still going on, and
each one's retention acting on the other's files. The lock (`flock` on `daemon.lock`, released by the
kernel when the process ends, so a crash leaves nothing to clean) makes the second one refuse.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from recorder.config import RoomConfig
from recorder.errors import ConfigError
from recorder.messages import _

LOCK_NAME = "daemon.lock"


def lock_files(config: RoomConfig) -> list[tuple[str, Path]]:
    """(setting, lock file) for the storage directory and, if elsewhere, the audit log's."""
    storage = config.storage
    locks = [("storage.directory", storage.directory / LOCK_NAME)]
    if storage.audit_path.parent != storage.directory:
        locks.append(("storage.audit_log", storage.audit_path.with_name(storage.audit_path.name + ".lock")))
    return locks


def holder(path: Path) -> int | None:
    """The pid holding the lock `path` (0 if it is held but names no pid), or None if it is free or
    absent. Creates nothing."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                return None
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else 0
        return None
    finally:
        os.close(fd)


def in_use_message(setting: str, path: Path, pid: int) -> str:
    who = _("pid {pid}").format(pid=pid) if pid else _("another process")
    return _(
        "{setting}: {directory} is in use by another daemon ({who} holds {lock}); "
        "one daemon per storage directory: give each room its own"
    ).format(setting=setting, directory=path.parent, who=who, lock=path.name)


class DaemonLock:
    """Held from the daemon's start to its exit. Raises ConfigError if another process holds it."""

    def __init__(self, config: RoomConfig) -> None:
        self._fds: list[int] = []
        try:
            for setting, path in lock_files(config):
                self._take(setting, path)
        except BaseException:
            self.release()
            raise

    def _take(self, setting: str, path: Path) -> None:
        """The held descriptor is read-only: a file open for writing would stop the storage's file
        system from being remounted read-only. The pid is written through a second one, closed."""
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(fd)
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            raise ConfigError(in_use_message(setting, path, holder(path) or 0)) from None
        self._fds.append(fd)
        writer = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW)
        try:
            os.write(writer, f"{os.getpid()}\n".encode())
        finally:
            os.close(writer)

    def release(self) -> None:
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()

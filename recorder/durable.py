"""Durability helpers shared by every writer: making a directory entry survive a power cut."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_directory(directory: Path | str) -> None:
    """fsync a directory so that files created, renamed or removed in it stay so. Raises OSError."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_directory(directory: Path) -> bool:
    """Create `directory` (0700; not its parents) if it is missing, durably. Returns True if it was
    created. Raises OSError (e.g. the parent is gone too, or a file stands in its place)."""
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        return False
    fsync_directory(directory.parent)
    return True

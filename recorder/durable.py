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

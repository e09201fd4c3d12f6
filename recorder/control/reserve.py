"""Spare file descriptors held for the trigger path, so an alarm never waits for a free descriptor."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import structlog

log = structlog.get_logger()


class DescriptorReserve:
    """Holds `size` descriptors (on /dev/null) and releases them all just before a request that may
    open files (the incident file, its directory for fsync), taking them back afterwards.

    Every connection, even one that never sends a byte, costs the daemon a descriptor. When a flood
    has taken them all, libzmq's listener keeps retrying `accept()` and takes any descriptor that is
    freed, so the reserve must outnumber what it can take while the request runs: the connections
    waiting in the listen backlogs of the two sockets (see server.LISTEN_BACKLOG). A descriptor lost
    that way is taken back at a later `refill()`, once the flood's connections have timed out.

    Touched only by the control thread (no lock).
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._fds: list[int] = []
        self._short = False
        self.refill()

    @property
    def held(self) -> int:
        return len(self._fds)

    @property
    def full(self) -> bool:
        return len(self._fds) >= self._size

    def refill(self) -> None:
        """Take descriptors back up to `size`; stops quietly at the first that is not free."""
        while len(self._fds) < self._size:
            try:
                self._fds.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
            except OSError as error:
                if not self._short:
                    log.warning(
                        "descriptor_reserve_short", held=len(self._fds), size=self._size, error=str(error)
                    )
                    self._short = True
                return
        if self._short:
            log.info("descriptor_reserve_restored", held=len(self._fds))
            self._short = False

    @contextlib.contextmanager
    def released(self) -> Iterator[None]:
        """Free every held descriptor for the duration of the block, then take them back."""
        self.close()
        try:
            yield
        finally:
            self.refill()

    def close(self) -> None:
        while self._fds:
            os.close(self._fds.pop())

"""Key material in page-locked, never-dumped memory that can really be overwritten."""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import threading

import structlog

log = structlog.get_logger()

KEY_BYTES = 32
_PAGE = mmap.PAGESIZE
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


class KeySlot:
    """32 bytes inside a locked page. `view` is writable; `wipe()` zeroes it and frees the slot."""

    def __init__(self, vault: KeyVault, page: mmap.mmap, offset: int) -> None:
        self._vault = vault
        self._page = page
        self._offset = offset
        self.view: memoryview | None = memoryview(page)[offset : offset + KEY_BYTES]

    def wipe(self) -> None:
        if self.view is None:
            return
        self.view[:] = bytes(KEY_BYTES)
        self.view.release()
        self.view = None
        self._vault.release(self._page, self._offset)


class KeyVault:
    """Allocates 32-byte key slots from anonymous pages that are `mlock`ed and `MADV_DONTDUMP`.

    If locking is not permitted (RLIMIT_MEMLOCK), the vault still works; `locked` is False and a
    warning is logged once. Thread-safe: sources (sealing) and the control thread (hand-over) both
    allocate and release slots, so one lock guards the free lists.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards _pages and _free
        self._pages: list[mmap.mmap] = []
        self._free: list[tuple[mmap.mmap, int]] = []
        self.locked = True
        self._add_page()  # so that `locked` is known from the start

    def allocate(self) -> KeySlot:
        with self._lock:
            if not self._free:
                self._add_page()
            page, offset = self._free.pop()
        return KeySlot(self, page, offset)

    def release(self, page: mmap.mmap, offset: int) -> None:
        with self._lock:
            self._free.append((page, offset))

    @property
    def slots_in_use(self) -> int:
        with self._lock:
            return len(self._pages) * (_PAGE // KEY_BYTES) - len(self._free)

    def _add_page(self) -> None:
        page = mmap.mmap(-1, _PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        page.madvise(mmap.MADV_DONTDUMP)
        address = ctypes.addressof(ctypes.c_char.from_buffer(page))
        if _libc.mlock(ctypes.c_void_p(address), ctypes.c_size_t(_PAGE)) != 0 and self.locked:
            self.locked = False
            log.warning("key_memory_not_locked", errno=ctypes.get_errno())
        self._pages.append(page)
        self._free.extend((page, offset) for offset in range(0, _PAGE, KEY_BYTES))

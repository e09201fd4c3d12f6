"""Process hygiene at start-up: no core dumps, not ptrace-able by peers, private files, locked memory,
and every descriptor the hard limit allows."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
from pathlib import Path

import structlog

log = structlog.get_logger()

_PR_SET_DUMPABLE = 4
_M_PERTURB = -6
_FREED_FILL = 0x5A
_MCL_CURRENT, _MCL_FUTURE, _MCL_ONFAULT = 1, 2, 4
_CAP_IPC_LOCK = 14
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def harden_process(lock_all_memory: bool = True) -> dict[str, bool]:
    """Apply what the kernel permits; return what took effect (reported in `status`).

    `mlockall` is attempted only as root, with CAP_IPC_LOCK (the unit's AmbientCapabilities=) or when
    RLIMIT_MEMLOCK is unlimited (LimitMEMLOCK=infinity): under a small limit, MCL_FUTURE would make
    later allocations fail.
    """
    os.umask(0o077)
    raise_open_files_limit()
    freed_memory_wiped = wipe_freed_memory()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    dumpable_off = _libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    memory_locked = False
    soft, _hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    if lock_all_memory and (soft == resource.RLIM_INFINITY or os.geteuid() == 0 or _can_lock_memory()):
        # MCL_ONFAULT locks each page when it is first touched instead of faulting in every
        # mapped library at once (RSS ~130 MB instead of ~650 MB); older kernels lack it.
        memory_locked = _libc.mlockall(_MCL_CURRENT | _MCL_FUTURE | _MCL_ONFAULT) == 0
        if not memory_locked:
            memory_locked = _libc.mlockall(_MCL_CURRENT | _MCL_FUTURE) == 0
    if not memory_locked:
        log.warning("memory_not_locked", hint="media may reach swap; run with LimitMEMLOCK=infinity")
    result = {
        "core_dumps_off": resource.getrlimit(resource.RLIMIT_CORE) == (0, 0),
        "not_dumpable": dumpable_off,
        "memory_locked": memory_locked,
        "freed_memory_wiped": freed_memory_wiped,
    }
    log.info("process_hardened", **result)
    return result


def _can_lock_memory() -> bool:
    """Whether CAP_IPC_LOCK is in effect: locking is then not bounded by RLIMIT_MEMLOCK."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return False
    effective = next((line.split()[1] for line in status.splitlines() if line.startswith("CapEff:")), "0")
    return bool(int(effective, 16) >> _CAP_IPC_LOCK & 1)


def wipe_freed_memory() -> bool:
    """Ask glibc to overwrite every block on `free()` (mallopt M_PERTURB).

    Python cannot zero a `bytes` object, and OpenCV and libav free their own JPEG buffers; with
    this, a freed frame's plaintext does not linger in the heap until the block is reused. The
    cost is one memset per freed block (well under 1 % of the CPU at camera rates, see
    docs/benchmarks.md). Returns False where the C library is not glibc.
    """
    try:
        mallopt = _libc.mallopt
    except AttributeError:
        return False
    return bool(mallopt(_M_PERTURB, _FREED_FILL))


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force.

    Every connection to the control or state port costs a descriptor, even one that never sends a
    byte; at the common soft limit of 1,024 a thousand silent connections would leave none for the
    incident file. The unit sets `LimitNOFILE=` (soft and hard); elsewhere the hard limit applies.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as error:  # e.g. an unlimited hard limit above the kernel's nr_open
            log.warning("open_files_limit_not_raised", soft=soft, hard=hard, error=str(error))
    log.info("open_files_limit", soft=soft, hard=hard)
    return soft

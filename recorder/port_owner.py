"""Which process listens on a loopback or local TCP port, and whether it is a room's own daemon:
so that `check-config` run beside a running room (before an upgrade's restart) can say so instead of
reporting the room's own port as taken. Reads /proc; answers None where it cannot see (not root,
another PID namespace)."""

from __future__ import annotations

import os
from pathlib import Path

_LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp{,6}


def listener_pid(port: int) -> int | None:
    """The pid of a process with a listening TCP socket on `port`, or None if none is visible."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(entry.name)
        except OSError:  # gone, or not ours to read
            continue
    return None


def runs_config(pid: int, config: Path) -> bool:
    """True if `pid` is `recorder run --config FILE` (any launcher) with FILE being `config`."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return False
    if "run" not in argv or "--config" not in argv[:-1]:
        return False
    given = Path(argv[argv.index("--config") + 1])
    try:
        return (cwd / given).resolve() == config.resolve()
    except OSError:
        return False


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == _LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    return inodes

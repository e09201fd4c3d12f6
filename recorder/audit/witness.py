"""Who acted, and the system journal as witness for entries written outside the daemon.

The daemon's `audit_appended` log lines reach the journal through its stdout; `recorder hold` and
`recorder purge` run in an operator's terminal, so they send each entry's seq and hash to journald's
native socket themselves (`journalctl -t recorder AUDIT_SEQ=12` finds it).
"""

from __future__ import annotations

import os
import pwd
import socket
import sys
from pathlib import Path
from typing import Any

import structlog

from recorder.audit.log import Echo

log = structlog.get_logger()

JOURNAL_SOCKET = "/run/systemd/journal/socket"
SOCKET_ENV = "RECORDER_JOURNAL_SOCKET"
"""Overrides the socket path (tests bind their own AF_UNIX datagram socket)."""


def actor() -> dict[str, Any]:
    """The account that acts, from the kernel (uid), plus the `sudo` caller when there is one."""
    uid = os.getuid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    command = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), "")
    who: dict[str, Any] = {"user": user, "uid": uid, "command": command}
    if os.environ.get("SUDO_USER"):
        who["sudo_user"] = os.environ["SUDO_USER"]  # as sudo reports it; root could set it
    return who


def journal_echo(log_path: Path) -> Echo:
    """An Echo that sends each entry's seq, hash and event to the system journal."""
    address = os.environ.get(SOCKET_ENV, JOURNAL_SOCKET)

    def echo(entry: dict[str, Any]) -> None:
        fields = {
            "MESSAGE": f"audit_appended seq={entry['seq']} hash={entry['hash']} event={entry['event']}",
            "PRIORITY": "6",
            "SYSLOG_IDENTIFIER": "recorder",
            "AUDIT_LOG": str(log_path),
            "AUDIT_SEQ": str(entry["seq"]),
            "AUDIT_HASH": str(entry["hash"]),
            "AUDIT_EVENT": str(entry["event"]),
        }
        datagram = "".join(f"{key}={value}\n" for key, value in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(datagram, address)
        except OSError as error:
            log.warning("journal_unavailable", socket=address, error=error.strerror, seq=entry["seq"])

    return echo

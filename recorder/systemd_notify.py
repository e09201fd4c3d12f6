"""sd_notify over $NOTIFY_SOCKET: READY, WATCHDOG and STATUS for a Type=notify unit."""

from __future__ import annotations

import os
import socket


class Notifier:
    """Does nothing when not started by systemd (no NOTIFY_SOCKET)."""

    def __init__(self) -> None:
        address = os.environ.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]
        self._address = address
        self._sock = (
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) if address else None
        )
        usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
        self.watchdog_interval_s = usec / 2e6 if usec else None

    def notify(self, message: str) -> None:
        if self._sock is not None:
            self._sock.sendto(message.encode(), self._address)

    def ready(self, status: str) -> None:
        self.notify(f"READY=1\nSTATUS={status}")

    def status(self, text: str) -> None:
        self.notify(f"STATUS={text}")

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

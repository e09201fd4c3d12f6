"""ZAP authentication against the in-memory allowlist; refused handshakes are counted and logged."""

from __future__ import annotations

import threading
import time
from typing import Any

import structlog
import zmq
from zmq.auth.thread import ThreadAuthenticator

from recorder.control.ratelimit import LogThrottle

log = structlog.get_logger()

ZAP_DOMAIN = "*"  # one domain for every socket: configure_curve('*') covers sockets without zap_domain


class AllowlistAuthenticator(ThreadAuthenticator):
    """Accepts a CURVE client only if its public key is in the allowlist. The allowlist can be
    replaced at any time (SIGHUP); ZAP only runs at the handshake, so the server also re-checks
    each message's key (see ControlServer).

    Lock discipline: `_lock` guards `_names` and `refused`, read by the ZAP thread and replaced by
    the control thread. `_peer` and `_throttle` are touched only by the ZAP thread.
    """

    def __init__(self, context: zmq.Context[Any], names: dict[bytes, str]) -> None:
        super().__init__(context)
        self._lock = threading.Lock()
        self._names = dict(names)
        self._peer = ""
        self._throttle = LogThrottle(limit=20, window_s=10.0)
        self.refused = 0

    def start(self) -> None:
        super().start()
        self.configure_curve_callback(ZAP_DOMAIN, credentials_provider=self)

    def replace(self, names: dict[bytes, str]) -> list[str]:
        """Install a new allowlist; returns the names of the keys it no longer holds, sorted."""
        with self._lock:
            revoked = sorted({name for key, name in self._names.items() if key not in names})
            self._names = dict(names)
        return revoked

    def enrolled(self) -> dict[bytes, str]:
        """A copy of the allowlist in force (key -> name)."""
        with self._lock:
            return dict(self._names)

    def clients(self) -> list[str]:
        """The enrolled clients' names, sorted (for the audit)."""
        with self._lock:
            return sorted(set(self._names.values()))

    def name_of(self, public_key: bytes) -> str | None:
        with self._lock:
            return self._names.get(public_key)

    def callback(self, domain: str, key: bytes) -> bool:
        """Called by the ZAP thread with the client's Z85 public key."""
        name = self.name_of(key)
        if name is None:
            with self._lock:
                self.refused += 1
                total = self.refused
            suppressed = self._throttle.allow(time.monotonic_ns())
            if suppressed is not None:
                log.warning(
                    "client_refused",
                    reason="unknown_key",
                    peer=self._peer,
                    key=key.decode(),
                    total=total,
                    suppressed=suppressed,
                )
            return False
        return True

    async def handle_zap_message(self, msg: list[bytes]) -> None:
        if len(msg) >= 4:
            self._peer = msg[3].decode("utf-8", "replace")  # ZAP frame 4 is the peer address
        await super().handle_zap_message(msg)

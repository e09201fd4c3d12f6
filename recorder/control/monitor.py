"""Watches the control ROUTER's connections through a libzmq socket monitor; counts and logs them."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import structlog
import zmq
from zmq.utils.monitor import recv_monitor_message

from recorder.control.ratelimit import LogThrottle

log = structlog.get_logger()

EVENTS = (
    zmq.EVENT_ACCEPTED
    | zmq.EVENT_DISCONNECTED
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_MONITOR_STOPPED
)
_COUNTED: dict[int, str] = {
    zmq.EVENT_ACCEPTED: "connections",
    zmq.EVENT_DISCONNECTED: "disconnects",
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: "handshake_refused",
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "handshake_failed",
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "handshake_failed",
}
_POLL_MS = 200


def peer_of_fd(fd: int) -> str:
    """ "ip:port" of the TCP peer on a libzmq connection's file descriptor, or "unknown"."""
    try:
        sock = socket.socket(fileno=fd)  # borrows the descriptor; detach() below never closes it
    except OSError:
        return "unknown"
    try:
        address = sock.getpeername()
    except OSError:
        return "unknown"
    finally:
        sock.detach()
    return f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address) or "unknown"


class ConnectionMonitor:
    """Reads the ROUTER's monitor socket on its own thread.

    libzmq tells *that* a connection ended, never *why*: an oversized message (`MAXMSGSIZE`) shows up
    as a disconnect of that peer. ACCEPTED events carry the new connection's descriptor, from which the
    peer address is read and remembered until the matching DISCONNECTED event.

    Lock discipline: `_lock` guards `_counts`, written by the monitor thread and read by the control
    thread. `_peers`, `_throttle` and the monitor socket are touched only by the monitor thread.
    The thread ends on `close()`, when the ROUTER is closed (MONITOR_STOPPED), or when the context is
    terminated, and closes the monitor socket itself in each case, so `Context.term()` never hangs.
    """

    def __init__(self, monitor_socket: zmq.Socket[Any]) -> None:
        self._socket = monitor_socket
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(sorted(set(_COUNTED.values())), 0)
        self._peers: dict[int, tuple[str, int]] = {}  # descriptor -> (peer, accepted at, ns)
        self._throttle = LogThrottle(limit=20, window_s=10.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="control-monitor", daemon=True)

    @classmethod
    def watch(cls, router: zmq.Socket[Any]) -> ConnectionMonitor:
        """Attach a monitor to `router` (on the router's thread) and start reading it."""
        monitor = cls(router.get_monitor_socket(EVENTS))
        monitor._thread.start()
        return monitor

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop the thread and wait for it (it closes the monitor socket on its way out)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if not self._socket.poll(_POLL_MS):
                    continue
                if not self._on_event(dict(recv_monitor_message(self._socket))):
                    break
        except zmq.ContextTerminated:
            pass
        except Exception:  # the thread's top: a monitor bug must not take the control plane down
            log.exception("control_monitor_failed")
        finally:
            self._socket.close(linger=0)

    def _on_event(self, event: dict[str, Any]) -> bool:
        """Count and log one event; returns False once the monitor has stopped."""
        kind, value = int(event["event"]), int(event["value"])
        if kind == zmq.EVENT_MONITOR_STOPPED:
            return False
        counter = _COUNTED.get(kind)
        if counter is None:
            return True
        with self._lock:
            self._counts[counter] += 1
        if kind == zmq.EVENT_ACCEPTED:
            self._peers[value] = (peer_of_fd(value), time.monotonic_ns())  # ACCEPTED's value: the descriptor
            return True
        self._log(counter, kind, value)
        return True

    def _log(self, counter: str, kind: int, value: int) -> None:
        if kind == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            return  # already logged, with peer and key, by the ZAP handler as client_refused
        now = time.monotonic_ns()
        fields: dict[str, Any] = {"total": self.counts()[counter]}
        if kind == zmq.EVENT_DISCONNECTED:  # a connection of a few ms may be an oversized message
            peer, accepted_ns = self._peers.pop(value, ("unknown", now))
            fields |= {"peer": peer, "connected_s": round((now - accepted_ns) / 1e9, 3)}
        else:  # the value of a handshake failure is an error code, not a descriptor
            fields["code"] = value
        suppressed = self._throttle.allow(now)
        if suppressed is not None:
            event = "client_disconnected" if kind == zmq.EVENT_DISCONNECTED else "client_handshake_failed"
            log.info(event, **fields, suppressed=suppressed)

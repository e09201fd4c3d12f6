"""The daemon: the one place that opens devices, files and sockets and wires the parts together."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import structlog
import zmq

from recorder import __version__
from recorder.audit.log import AuditLog
from recorder.clock import Clock, SystemClock
from recorder.config import RoomConfig
from recorder.control.allowlist import load_allowlist
from recorder.control.auth import AllowlistAuthenticator
from recorder.control.server import ControlServer, load_server_keys, open_sockets
from recorder.errors import StorageError
from recorder.hygiene import harden_process
from recorder.incident.output import open_incident_output
from recorder.incident.writer import IncidentOutput
from recorder.preflight import ensure_ready
from recorder.retention import purge
from recorder.ring import EncryptedRing
from recorder.room import Room
from recorder.router import PacketRouter
from recorder.secure_memory import KeyVault
from recorder.sources.base import MediaSource
from recorder.sources.factory import build_sources
from recorder.supervision import Supervisor, stall_limit_s
from recorder.systemd_notify import Notifier

log = structlog.get_logger()

POLL_MS = 200
"""The control loop's wake-up when no request comes (a request is served at once): timers (post-roll,
heartbeat, watchdog) and source failures act within this. 50 ms cost an idle room 0.27 % of a core,
200 ms 0.07 % (docs/benchmarks.md, rooms per box)."""
PURGE_INTERVAL_S = 3600.0


class Daemon:
    """Owns every thread and socket it starts, and stops and joins them in `close()`."""

    def __init__(self, config: RoomConfig, clock: Clock | None = None) -> None:
        for warning in ensure_ready(config):  # raises ConfigError before any file or socket exists
            log.warning("preflight_warning", detail=warning)
        self.config = config
        self.clock = clock or SystemClock()
        self.stop_requested = threading.Event()
        self.reload_requested = threading.Event()
        self.hardening = harden_process()
        self._prepare_storage()
        self.audit = _open_audit(config)
        self.vault = KeyVault()
        ring = EncryptedRing(
            self.vault,
            config.recording.pre_roll_s,
            config.recording.max_ring_bytes,
            config.recording.key_rotation_s,
        )
        self.router = PacketRouter(ring, self.clock, config.audio.in_pre_roll)
        self.room = Room(config, self.clock, self.router, self.audit, self._open_output)
        self.room.privacy = {
            **self.hardening,
            "key_memory_locked": self.vault.locked,
            "audit_verify_key_on_device": _warn_if_verify_key_on_device(config),
        }
        self._context: zmq.Context[Any] = zmq.Context()
        self._auth = AllowlistAuthenticator(self._context, load_allowlist(config.control.authorized_clients))
        self._auth.start()  # before bind: without a ZAP handler CURVE would accept anyone
        keys = load_server_keys(config.control.server_secret_key)
        router_sock, pub_sock = open_sockets(self._context, config.control, keys)
        self._sockets = (router_sock, pub_sock)
        self.server = ControlServer(router_sock, pub_sock, self._auth, self.room, self.clock, config.control)
        self.sources: list[MediaSource] = build_sources(config, self.clock, self.room.source_status)
        # supervision hook: READY, STATUS and WATCHDOG for systemd (recorder/supervision.py)
        self.supervisor = Supervisor(Notifier(), self.sources, stall_limit_s(config), self.room.source_status)

    def serve(self) -> None:
        """Run until SIGTERM/SIGINT (or `stop_requested`)."""
        self.audit.append(
            "daemon_started",
            version=__version__,
            pid=os.getpid(),
            room=self.config.room,
            clients=self._auth.clients(),
            hardening=self.hardening,
            key_memory_locked=self.vault.locked,
            pre_roll_s=self.config.recording.pre_roll_s,
            audio_in_pre_roll=self.config.audio.in_pre_roll,
        )
        t0_ns = self.clock.monotonic_ns()
        for source in self.sources:
            source.start(self.router.on_packet, t0_ns)
        log.info("daemon_ready", room=self.config.room, endpoint=self.config.control.endpoint)
        self._loop()

    def _loop(self) -> None:
        heartbeat_s = self.config.control.heartbeat_s
        next_heartbeat = 0.0
        last_status: dict[str, Any] | None = None
        next_purge = 0.0
        while not self.stop_requested.is_set():
            self.server.poll(POLL_MS)
            if self.reload_requested.is_set():
                self.reload_requested.clear()
                self._reload_allowlist()
            self.room.tick()
            status, now = self.room.status(), time.monotonic()
            if now >= next_purge:
                self._purge()
                next_purge = now + PURGE_INTERVAL_S
            if status != last_status or now >= next_heartbeat:
                self.server.publish()
                last_status, next_heartbeat = status, now + heartbeat_s
            self.supervisor.tick(status)  # supervision hook: READY once capture runs, STATUS, WATCHDOG

    def close(self) -> None:
        self.supervisor.stopping()
        for source in self.sources:
            source.stop()
        self.room.shutdown()
        self.router.shutdown()
        self.audit.append("daemon_stopped", room=self.config.room)
        self.audit.close()
        self.server.close()
        for sock in self._sockets:
            sock.close(linger=0)
        self._auth.stop()
        self._context.term()
        log.info("daemon_stopped", room=self.config.room)

    def install_signal_handlers(self) -> None:
        def stop(signum: int, _frame: FrameType | None) -> None:
            log.info("signal_received", signal=signal.Signals(signum).name)
            self.stop_requested.set()

        def reload(_signum: int, _frame: FrameType | None) -> None:
            self.reload_requested.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)

    def _purge(self) -> None:
        try:
            purge(self.config, self.audit)
        except (OSError, StorageError) as error:
            log.error("retention_purge_failed", error=str(error))

    def _reload_allowlist(self) -> None:
        self._auth.replace(load_allowlist(self.config.control.authorized_clients))
        self.audit.append("allowlist_reloaded", clients=self._auth.clients())

    def _open_output(self, incident: str) -> tuple[IncidentOutput, Path]:
        return open_incident_output(self.config, incident)

    def _prepare_storage(self) -> None:
        directory = self.config.storage.directory
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)


def _open_audit(config: RoomConfig) -> AuditLog:
    path = config.storage.audit_path
    if not path.exists():
        AuditLog.create(path, config.storage.verify_key_path)
        log.info("audit_log_created", path=str(path), verify_key=str(config.storage.verify_key_path))
    return AuditLog(path)


def _warn_if_verify_key_on_device(config: RoomConfig) -> bool:
    """The audit log's initial key derives every later MAC key: while it stays on the device, a thief
    could re-MAC an edited log. Warned at every start and reported in `status` until it is moved."""
    verify_key = config.storage.verify_key_path
    if not verify_key.exists():
        return False
    log.warning(
        "audit_verify_key_on_device",
        path=str(verify_key),
        action="move it off this device and give it to the auditor: whoever holds it can forge the log",
    )
    return True


def run(config: RoomConfig) -> int:
    """`recorder run`: start, serve until a signal, shut down cleanly. Returns the exit code."""
    daemon = Daemon(config)
    daemon.install_signal_handlers()
    try:
        daemon.serve()
    finally:
        daemon.close()
    return 0

"""The daemon: the one place that opens devices, files and sockets and wires the parts together."""

from __future__ import annotations

import faulthandler
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import structlog
import zmq

from recorder import __version__, faults
from recorder.audit.log import AuditLog, state_path
from recorder.clock import Clock, SystemClock
from recorder.clock_watch import ClockWatch
from recorder.config import RoomConfig
from recorder.control.allowlist import load_allowlist
from recorder.control.allowlist_reload import reload_allowlist
from recorder.control.auth import AllowlistAuthenticator
from recorder.control.server import ControlServer, load_server_keys, open_sockets
from recorder.errors import ConfigError, RecorderError, RetentionError
from recorder.hygiene import harden_process
from recorder.incident.output import open_incident_output
from recorder.incident.writer import IncidentOutput
from recorder.preflight import ensure_ready
from recorder.recovery import recover
from recorder.retention import purge
from recorder.ring import EncryptedRing
from recorder.room import Room
from recorder.router import PacketRouter
from recorder.secure_memory import KeyVault
from recorder.sources.base import MediaSource
from recorder.sources.factory import build_sources
from recorder.storage_lock import DaemonLock
from recorder.supervision import Supervisor, clock_synchronized, stall_limit_s
from recorder.systemd_notify import Notifier

log = structlog.get_logger()

POLL_MS = 200
"""The control loop's wake-up when no request comes (a request is served at once): timers (post-roll,
heartbeat, watchdog) and source failures act within this. 50 ms cost an idle room 0.27 % of a core,
200 ms 0.07 % (docs/benchmarks.md, rooms per box)."""
PURGE_INTERVAL_S = 3600.0
PURGE_RETRY_S = 60.0


class Daemon:
    """Owns every thread and socket it starts, and stops and joins them in `close()`."""

    def __init__(self, config: RoomConfig, clock: Clock | None = None) -> None:
        for warning in ensure_ready(config):  # raises ConfigError before any file or socket exists
            log.warning("preflight_warning", detail=warning)
        self.config = config
        self.fault_plan = faults.install_from_environment(os.environ)
        self.clock = clock or SystemClock()
        if self.fault_plan is not None:
            self.clock = faults.ShiftedClock(self.clock, self.fault_plan)
        self.clock_watch = ClockWatch(self.clock, clock_synchronized)  # retention's guard against steps
        self.stop_requested = threading.Event()
        self.reload_requested = threading.Event()
        self.hardening = harden_process()
        self._prepare_storage()
        self.lock = DaemonLock(config)  # before the audit log is opened: a second daemon stops here
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
        self.room.privacy = {**self.hardening, "key_memory_locked": self.vault.locked}
        _warn_if_verify_key_on_device(config)
        self.room.privacy_probes = {"audit_verify_key_on_device": config.storage.verify_key_path.exists}
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
        self.uploader: Any = None  # vault hook: recorder.vault.VaultUploader when [vault] is set
        self._published: dict[str, Any] | None = None  # the status last sent on the PUB socket
        self._next_heartbeat = 0.0

    def serve(self) -> None:
        """Run until SIGTERM/SIGINT (or `stop_requested`). Raises AuditFailed if the start cannot be
        audited (then the daemon must not run)."""
        audit = self.room.audit
        recover(self.config, audit)
        if self.fault_plan is not None:
            audit.write("fault_injection_enabled", plan=str(self.fault_plan.path), note="test only")
        audit.write(
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
        self._start_vault()
        log.info("daemon_ready", room=self.config.room, endpoint=self.config.control.endpoint)
        self._loop()

    def _loop(self) -> None:
        """Each step is guarded: whatever one raises is logged and shows in `degraded` under the
        step's name until it next succeeds; the loop goes on (systemd restarts only real crashes).
        The state is published after the requests and again after the timers, so that a change
        undone by the next tick (a start whose file fails at once) is still published."""
        next_purge = 0.0
        while not self.stop_requested.is_set():
            self._guarded("control", lambda: self.server.poll(POLL_MS))
            self._publish_if_changed()
            if self.reload_requested.is_set():
                self.reload_requested.clear()
                self._guarded("allowlist", self._reload_allowlist)
            self._guarded("room", self.room.tick)
            clock_ok = self._guarded("clock", self._check_clock)
            now = time.monotonic()
            if now >= next_purge:
                purged = clock_ok and self._guarded("retention", self._purge)
                next_purge = now + (PURGE_INTERVAL_S if purged else PURGE_RETRY_S)
            self._publish_if_changed()
            # supervision hook: READY once capture runs, STATUS, WATCHDOG (not petted if this fails)
            self._guarded("supervisor", lambda: self.supervisor.tick(self.room.status()))

    def _publish_if_changed(self) -> None:
        """Publish on every change of the status and at least every heartbeat."""
        status, now = self.room.status(), time.monotonic()
        if status != self._published or now >= self._next_heartbeat:
            if self._guarded("state_publisher", self.server.publish):
                self._published = status
            self._next_heartbeat = now + self.config.control.heartbeat_s

    def _guarded(self, step: str, action: Callable[[], object]) -> bool:
        """Run one step of the loop; True if it succeeded."""
        health = self.room.health
        try:
            faults.point(f"loop.{step}")
            action()
        except Exception as error:
            if step in health.parts:  # log a persistent failure once, not every 50 ms
                pass
            elif isinstance(error, RecorderError):  # the world's doing, said in one line: no traceback
                log.error("loop_step_failed", step=step, error=str(error))
            else:
                log.exception("loop_step_failed", step=step)
            health.fail(step, f"{type(error).__name__}: {error}")
            return False
        if step in health.parts:
            health.recover(step, "working again")
        return True

    def close(self) -> None:
        self.supervisor.stopping()
        for source in self.sources:
            source.stop()
        self.room.shutdown()
        self.router.shutdown()
        if self.uploader is not None:  # vault hook: stops between two requests, joined
            self.uploader.stop()
        self.room.audit.write_or_log("daemon_stopped", room=self.config.room)
        self.room.audit.close()
        self.server.close()
        for sock in self._sockets:
            sock.close(linger=0)
        self._auth.stop()
        self._context.term()
        self.lock.release()
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

    def _start_vault(self) -> None:
        """Vault hook: the background uploader (recorder/vault/), only when [vault] is set, so a room
        without a vault never imports boto3. It only reports to `degraded`; it never stops the room."""
        if self.config.vault is None:
            return
        from recorder.vault import VaultUploader

        self.uploader = VaultUploader(self.config, self.room.source_status)
        self.uploader.start()

    def _check_clock(self) -> None:
        """Raises RetentionError while the wall clock has stepped forward (`recorder.clock_watch`):
        `degraded` then names `clock` and retention waits, so that no incident is deleted early."""
        problem = self.clock_watch.check()
        if problem is not None:
            raise RetentionError(problem)

    def _purge(self) -> None:
        """Raises (OSError, StorageError, …) when a deletion or its audit entry fails. Ages are counted
        on the daemon's clock, the one the clock watch checks."""
        purge(self.config, self.audit, now=self.clock.wall_time())

    def _reload_allowlist(self) -> None:
        """The new allowlist applies even when its audit entry cannot be written (a revoked key must
        be refused): the entry is then logged and written once the audit recovers. What could not be
        read keeps what was in force (`recorder.control.allowlist_reload`) and raises ConfigError, so
        that `degraded` names the allowlist until a reload succeeds."""
        directory = self.config.control.authorized_clients
        names, problems = reload_allowlist(directory, self._auth.enrolled())
        self.server.replace_allowlist(names)
        self.room.audit.write_or_log("allowlist_reloaded", clients=self._auth.clients(), problems=problems)
        if problems:
            raise ConfigError(f"control.authorized_clients: {'; '.join(problems)}")

    def _open_output(self, incident: str) -> tuple[IncidentOutput, Path]:
        return open_incident_output(self.config, incident)

    def _prepare_storage(self) -> None:
        directory = self.config.storage.directory
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)


def _open_audit(config: RoomConfig) -> AuditLog:
    """Open (or create) the log, reconciling it with the device state: a torn tail is sealed and
    missing entries are recorded as a gap (`recorder.audit.reconcile`), never silently accepted."""
    path = config.storage.audit_path
    if not path.exists() and not state_path(path).exists():
        AuditLog.create(path, config.storage.verify_key_path)
        log.info("audit_log_created", path=str(path), verify_key=str(config.storage.verify_key_path))
    elif not path.exists():
        log.error(
            "audit_log_missing",
            path=str(path),
            state=str(state_path(path)),
            action="the log was deleted or moved but its state kept: a new log file continues the "
            "device's chain and records the missing entries (log_gap)",
        )
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
    """`recorder run`: start, serve until a signal, shut down cleanly. Returns the exit code.

    faulthandler is on: a daemon hung in C code (where no Python signal handler can run) and aborted
    by systemd's watchdog (SIGABRT) leaves every thread's stack in the journal."""
    faulthandler.enable()
    daemon = Daemon(config)
    daemon.install_signal_handlers()
    try:
        daemon.serve()
    finally:
        daemon.close()
    return 0

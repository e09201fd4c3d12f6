"""The room: applies state-machine transitions, opens and closes incidents, writes the audit.

Only the control thread calls into a Room; it owns no thread and no socket.
"""

from __future__ import annotations

import queue
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import structlog

from recorder.audit.log import AuditLog
from recorder.clock import Clock
from recorder.config import RoomConfig
from recorder.control.protocol import ErrorCode, Request
from recorder.errors import ProtocolError, StorageError
from recorder.incident.writer import IncidentOutput, IncidentWriter
from recorder.router import PacketRouter
from recorder.state import Action, Event, State, transition

log = structlog.get_logger()

STORAGE = "storage"
"""The name under which a failing incident write shows in `degraded` (buttons show it)."""

OutputFactory = Callable[[str], tuple[IncidentOutput, Path]]
"""Opens the output of a new incident by id; returns it and its file. Raises StorageError."""


@dataclass
class _Open:
    writer: IncidentWriter
    path: Path
    started_ns: int
    post_roll_deadline_ns: int | None = None


class Room:
    def __init__(
        self,
        config: RoomConfig,
        clock: Clock,
        router: PacketRouter,
        audit: AuditLog,
        open_output: OutputFactory,
    ) -> None:
        self._config = config
        self._clock = clock
        self._router = router
        self._audit = audit
        self._open_output = open_output
        self.state = State.IDLE
        self.since = clock.wall_time()
        self._open: _Open | None = None
        self._closing: list[tuple[IncidentWriter, Path, str]] = []
        self.degraded: dict[str, str] = {}
        self.privacy: dict[str, bool] = {}  # what process hardening took effect (set by the daemon)
        self.privacy_probes: dict[str, Callable[[], bool]] = {}  # checked whenever status is built
        self._source_events: queue.SimpleQueue[tuple[str, bool, str]] = queue.SimpleQueue()
        self._log = log.bind(room=config.room)

    def source_status(self, name: str, healthy: bool, detail: str) -> None:
        """A source failed or recovered. Called from the source's thread: only enqueues."""
        self._source_events.put((name, healthy, detail))

    @property
    def _current_incident(self) -> str | None:
        return self._open.writer.incident if self._open else None

    # -- RequestHandler -------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {
            "room": self._config.room,
            "state": self.state.value,
            "incident": self._current_incident,
            "since": round(self.since, 3),
            "degraded": sorted(self.degraded),
            "privacy": {**self.privacy, **{name: probe() for name, probe in self.privacy_probes.items()}},
        }

    def handle(self, client: str, request: Request) -> dict[str, Any]:
        try:
            if request.type == "trigger":
                self._apply(Event.TRIGGER, client=client, reason=request.reason)
            elif request.type == "clear":
                self._apply(Event.CLEAR, client=client, reason=request.reason)
            elif request.type == "annotate":
                self._annotate(client, str(request.incident), str(request.reason))
        except StorageError as error:
            self._log.error("audit_failed", request=request.type, client=client, error=str(error))
            raise ProtocolError(ErrorCode.STORAGE_FAILED, "audit log not writable") from None
        return self.status()

    # -- timers ---------------------------------------------------------------------------------
    def tick(self) -> bool:
        """Fire due timers and reap finished incident writers. Returns True if the state changed."""
        self._router.tick()
        self._reap_closed()
        changed = self._apply_source_events()
        now = self._clock.monotonic_ns()
        current = self._open
        if current is None:
            return changed
        if current.writer.failed and STORAGE not in self.degraded:
            self.source_status(STORAGE, False, f"incident {current.writer.incident}: write failed")
        if now - current.started_ns >= self._config.recording.max_incident_s * 1e9:
            return self._apply(Event.MAX_DURATION_REACHED)
        if current.post_roll_deadline_ns is not None and now >= current.post_roll_deadline_ns:
            return self._apply(Event.POST_ROLL_ELAPSED)
        return changed

    def _apply_source_events(self) -> bool:
        changed = False
        while True:
            try:
                name, healthy, detail = self._source_events.get_nowait()
            except queue.Empty:
                return changed
            if healthy == (name not in self.degraded):
                continue  # no change (e.g. a repeated failure report)
            if healthy:
                del self.degraded[name]
            else:
                self.degraded[name] = detail
            incident = self._current_incident
            event = "source_recovered" if healthy else "source_failed"
            self._log.warning(event, source=name, detail=detail)
            self._audit_or_log(event, source=name, detail=detail, incident=incident)
            changed = True

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """End any open incident cleanly and wait for every writer to close its file."""
        if self._open is not None:
            self._end_incident("daemon_stopped")
            self.state = State.IDLE
        deadline = time.monotonic() + timeout_s
        for writer, _path, _why in self._closing:
            writer.join(max(0.0, deadline - time.monotonic()))
        self._reap_closed()

    # -- transitions ----------------------------------------------------------------------------
    def _apply(self, event: Event, client: str | None = None, reason: str | None = None) -> bool:
        new_state, action = transition(self.state, event)
        if action is Action.NONE:
            self._log.info("event_ignored", event_name=event.value, state=self.state.value, client=client)
            return False
        if action is Action.START_INCIDENT:
            self._start_incident(client or "?", reason)
        elif action is Action.EXTEND_INCIDENT:
            self._extend_incident(client or "?", reason)
        elif action is Action.START_POST_ROLL:
            self._start_post_roll(client or "?", reason)
        elif action is Action.END_INCIDENT:
            self._end_incident(event.value)
        if new_state is not self.state:
            self._log.info("state_changed", old=self.state.value, new=new_state.value, event_name=event.value)
            self.state = new_state
            self.since = self._clock.wall_time()
        return True

    def _start_incident(self, client: str, reason: str | None) -> None:
        incident = _incident_id(self._config.room, self._clock.wall_time())
        try:
            output, path = self._open_output(incident)
        except StorageError as error:
            self._audit_or_log("trigger_failed", client=client, reason=reason, error=str(error))
            raise ProtocolError(ErrorCode.STORAGE_FAILED, f"cannot open incident file: {error}") from None
        writer = IncidentWriter(incident, output, self._config.recording.writer_queue_bytes)
        snapshot = self._router.start_incident(writer)
        entry = {
            "incident": incident,
            "client": client,
            "reason": reason,
            "file": path.name,
            "pre_roll": asdict(snapshot.stats),
            "audio": {
                "enabled": self._config.audio.active,
                "in_pre_roll": self._config.audio.in_pre_roll,
            },
        }
        try:
            self._audit.append("incident_started", **entry)
        except StorageError as error:
            # No audit entry, no recording: an unaccounted incident must not exist.
            self._router.end_incident()
            writer.finish()
            writer.join(10)
            path.unlink(missing_ok=True)
            self._log.error("incident_aborted", incident=incident, error=str(error))
            raise ProtocolError(
                ErrorCode.STORAGE_FAILED, "audit log not writable; nothing recorded"
            ) from None
        self._open = _Open(writer, path, self._clock.monotonic_ns())
        if STORAGE in self.degraded:
            self.source_status(STORAGE, True, f"incident {incident} opened")
        self._log.info("recording_started", incident=incident, client=client, pre_roll=entry["pre_roll"])

    def _extend_incident(self, client: str, reason: str | None) -> None:
        assert self._open is not None
        self._audit.append(
            "trigger_extended", incident=self._open.writer.incident, client=client, reason=reason
        )
        self._open.post_roll_deadline_ns = None

    def _start_post_roll(self, client: str, reason: str | None) -> None:
        assert self._open is not None
        post_roll = self._config.recording.post_roll_s
        self._audit.append(
            "clear", incident=self._open.writer.incident, client=client, reason=reason, post_roll_s=post_roll
        )
        self._open.post_roll_deadline_ns = self._clock.monotonic_ns() + int(post_roll * 1e9)

    def _end_incident(self, why: str) -> None:
        assert self._open is not None
        writer = self._router.end_incident()
        assert writer is self._open.writer
        writer.finish()
        self._closing.append((writer, self._open.path, why))
        self._log.info("recording_stopped", incident=writer.incident, why=why)
        self._open = None

    def _reap_closed(self) -> None:
        still_closing = []
        for writer, path, why in self._closing:
            if not writer.done:
                still_closing.append((writer, path, why))
                continue
            result = writer.join()
            assert result is not None
            self._audit_or_log(
                "incident_closed",
                incident=writer.incident,
                why=why,
                file=path.name,
                packets=result.packets_written,
                dropped=result.packets_dropped,
                media_s=round(((result.last_pts_ns or 0) - (result.first_pts_ns or 0)) / 1e9, 3),
                output=result.output,
                error=result.error,
            )
        self._closing = still_closing

    def _annotate(self, client: str, incident: str, text: str) -> None:
        if incident != self._current_incident and not self._config.storage.incident_path(incident).is_file():
            raise ProtocolError(ErrorCode.UNKNOWN_INCIDENT, f"no incident {incident!r} in this room")
        self._audit.append("annotation", incident=incident, client=client, text=text)

    def _audit_or_log(self, event: str, **data: Any) -> None:
        try:
            self._audit.append(event, **data)
        except StorageError as error:
            self._log.error("audit_failed", audit_event=event, error=str(error), **data)


def _incident_id(room: str, wall_time: float) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(wall_time))
    return f"{room}-{stamp}-{secrets.token_hex(3)}"

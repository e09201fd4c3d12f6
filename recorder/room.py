"""The room: applies state-machine transitions, opens and closes incidents, writes the audit.

Only the control thread calls into a Room; it owns no thread and no socket.

The room rule (docs/reliability.md): after every request the room is either recording with its
start audited, or nothing was recorded, the client has a documented error code, the failure is
audited (logged if the audit itself failed) and `degraded` names it until it recovers. `handle` is
the one place that decides what a failed step means; the effects only say which step failed.
"""

from __future__ import annotations

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
from recorder.errors import AuditError, ProtocolError, StorageError
from recorder.health import AUDIT, STORAGE, Health
from recorder.incident.age_writer import sealed_layout
from recorder.incident.ids import is_incident_id, make_incident_id
from recorder.incident.output import probe_storage
from recorder.incident.writer import IncidentOutput, IncidentWriter
from recorder.room_audit import AuditFailed, RoomAudit
from recorder.router import PacketRouter
from recorder.state import Action, Event, State, transition

log = structlog.get_logger()

OutputFactory = Callable[[str], tuple[IncidentOutput, Path]]
"""Opens the output of a new incident by id; returns it and its file. Raises StorageError."""

ABORT_JOIN_S = 5.0
_PART_TEXT = {AUDIT: "audit log not writable", STORAGE: "incident file not writable"}


class StepFailed(Exception):
    """A step of a request failed; `handle` decides what that means for the room and the client."""

    def __init__(self, step: str, error: BaseException, left_file: str | None = None) -> None:
        if isinstance(error, AuditFailed) and error.__cause__ is not None:
            error = error.__cause__  # what actually failed in the audit log
        super().__init__(f"{step} failed: {type(error).__name__}: {error}")
        self.step = step
        self.error = error
        self.left_file = left_file

    @property
    def part(self) -> str:
        """What `degraded` names: the audit log, or the incident files."""
        return AUDIT if self.step == "audit_append" else STORAGE

    @property
    def code(self) -> ErrorCode:
        broken_by_world = isinstance(self.error, OSError | StorageError | AuditError)
        return ErrorCode.STORAGE_FAILED if broken_by_world else ErrorCode.INTERNAL


@dataclass
class _Open:
    writer: IncidentWriter
    path: Path
    started_ns: int
    post_roll_deadline_ns: int | None = None


@dataclass
class _Start:
    """How far a start got, so that a failure undoes exactly that."""

    incident: str
    step: str = "open_file"
    output: IncidentOutput | None = None
    path: Path | None = None
    writer: IncidentWriter | None = None
    routed: bool = False


class Room:
    def __init__(
        self,
        config: RoomConfig,
        clock: Clock,
        router: PacketRouter,
        audit: AuditLog,
        open_output: OutputFactory,
        probe: Callable[[], None] | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._router = router
        self.audit = RoomAudit(audit)
        self._open_output = open_output
        self.state = State.IDLE
        self.since = clock.wall_time()
        self._open: _Open | None = None
        self._closing: list[tuple[IncidentWriter, Path, str]] = []
        self.health = Health(
            self.audit,
            clock,
            probe or (lambda: probe_storage(config.storage.directory)),
            lambda: self._current_incident,
        )
        self.privacy: dict[str, bool] = {}  # what process hardening took effect (set by the daemon)
        self.privacy_probes: dict[str, Callable[[], bool]] = {}  # checked whenever status is built
        self._log = log.bind(room=config.room)

    def source_status(self, name: str, healthy: bool, detail: str, lost: int = 0) -> None:
        """A source failed or recovered, or lost `lost` packets (see `StatusSink`). Called from the
        source's thread: only enqueues."""
        self.health.report(name, healthy, detail, lost)

    @property
    def degraded(self) -> dict[str, str]:
        return self.health.parts

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
            "degraded": sorted(self.health.parts),
            "privacy": {**self.privacy, **{name: probe() for name, probe in self.privacy_probes.items()}},
        }

    def handle(self, client: str, request: Request) -> dict[str, Any]:
        """Carry out a request. Raises ProtocolError; after a failed step the room is as before it."""
        try:
            if request.type == "trigger":
                self._apply(Event.TRIGGER, client=client, reason=request.reason)
            elif request.type == "clear":
                self._apply(Event.CLEAR, client=client, reason=request.reason)
            elif request.type == "annotate":
                self._annotate(client, str(request.incident), str(request.reason))
        except StepFailed as failure:
            raise self._refused(client, request, failure) from None
        return self.status()

    def _refused(self, client: str, request: Request, failure: StepFailed) -> ProtocolError:
        """The one place that decides what a failed request means: the room stays as it was,
        `degraded` names the failed part, the failure is audited (or logged) and the client told."""
        self.health.fail(failure.part, str(failure))
        self.audit.write_or_log(
            f"{request.type}_failed",
            client=client,
            reason=request.reason,
            incident=request.incident or self._current_incident,
            step=failure.step,
            error=f"{type(failure.error).__name__}: {failure.error}",
            left_file=failure.left_file,
            state=self.state.value,
        )
        what = _PART_TEXT[failure.part] if failure.code is ErrorCode.STORAGE_FAILED else "internal error"
        outcome = (
            "nothing recorded" if request.type == "trigger" and self._open is None else "nothing changed"
        )
        return ProtocolError(failure.code, f"{what}; {outcome} ({failure})")

    # -- timers ---------------------------------------------------------------------------------
    def tick(self) -> bool:
        """Fire due timers, reap finished incident writers and probe failed parts. Returns True if
        the state or `degraded` changed."""
        self._router.tick()
        self._reap_closed()
        changed = self.health.tick()
        current = self._open
        if current is None:
            return changed
        now = self._clock.monotonic_ns()
        if current.writer.failed:
            self.health.fail(STORAGE, f"incident {current.writer.incident}: write failed")
            return self._apply(Event.WRITE_FAILED)
        if now - current.started_ns >= self._config.recording.max_incident_s * 1e9:
            return self._apply(Event.MAX_DURATION_REACHED) or changed
        if current.post_roll_deadline_ns is not None and now >= current.post_roll_deadline_ns:
            return self._apply(Event.POST_ROLL_ELAPSED) or changed
        return changed

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """End any open incident cleanly and wait for every writer to close its file."""
        if self._open is not None:
            self._end_incident("daemon_stopped")
            self.state = State.IDLE
        deadline = time.monotonic() + timeout_s
        for writer, _path, _why in self._closing:
            writer.join(max(0.0, deadline - time.monotonic()))
        self._reap_closed()
        for writer, _path, _why in self._closing:
            self._log.error("incident_close_timed_out", incident=writer.incident)

    # -- transitions ----------------------------------------------------------------------------
    def _apply(self, event: Event, client: str | None = None, reason: str | None = None) -> bool:
        """Run the transition's action; enter the new state only if it succeeded. Raises StepFailed."""
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
        """Open the file, start the writer, hand the ring over, audit; any failure undoes the steps
        taken (the file is removed: an unaudited incident must not exist) and raises StepFailed."""
        start = _Start(make_incident_id(self._config.room, self._clock.wall_time()))
        try:
            start.output, start.path = self._open_output(start.incident)
            start.step = "writer_start"
            start.writer = IncidentWriter(
                start.incident, start.output, self._config.recording.writer_queue_bytes
            )
            start.step = "hand_over"
            snapshot = self._router.start_incident(start.writer)
            start.routed = True
            start.step = "audit_append"
            self.audit.write(
                "incident_started",
                incident=start.incident,
                client=client,
                reason=reason,
                file=start.path.name,
                pre_roll=asdict(snapshot.stats),
                audio={"enabled": self._config.audio.active, "in_pre_roll": self._config.audio.in_pre_roll},
            )
        except Exception as error:
            raise StepFailed(start.step, error, self._undo(start)) from error
        self._open = _Open(start.writer, start.path, self._clock.monotonic_ns())
        self.health.recover(STORAGE, f"incident {start.incident} opened")
        self._log.info(
            "recording_started", incident=start.incident, client=client, pre_roll=asdict(snapshot.stats)
        )

    def _undo(self, start: _Start) -> str | None:
        """Undo a failed start. Returns the name of a file that could not be removed (or None)."""
        if start.routed:
            self._router.end_incident()
        if start.writer is not None:
            start.writer.abort()
            if start.writer.join(ABORT_JOIN_S) is None:
                self._log.error("incident_abort_timed_out", incident=start.incident)
        elif start.output is not None:
            try:
                start.output.close()
            except Exception as error:
                self._log.warning("incident_output_close_failed", incident=start.incident, error=str(error))
        if start.path is None:
            return None
        try:
            start.path.unlink(missing_ok=True)
        except OSError as error:
            self._log.error(
                "incident_file_left", incident=start.incident, file=start.path.name, error=str(error)
            )
            return start.path.name
        self._log.warning("incident_aborted", incident=start.incident, step=start.step)
        return None

    def _extend_incident(self, client: str, reason: str | None) -> None:
        assert self._open is not None
        self._write_audit(
            "trigger_extended", incident=self._open.writer.incident, client=client, reason=reason
        )
        self._open.post_roll_deadline_ns = None

    def _start_post_roll(self, client: str, reason: str | None) -> None:
        assert self._open is not None
        post_roll = self._config.recording.post_roll_s
        self._write_audit(
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
            output = result.output
            if result.error is not None:
                self.health.fail(STORAGE, f"incident {writer.incident}: {result.error}")
                output = {**output, **_layout(path)}
            self.audit.write_or_log(
                "incident_closed",
                incident=writer.incident,
                why=why,
                file=path.name,
                packets=result.packets_written,
                dropped=result.packets_dropped,
                media_s=round(((result.last_pts_ns or 0) - (result.first_pts_ns or 0)) / 1e9, 3),
                output=output,
                error=result.error,
                truncated=result.error is not None,
            )
        self._closing = still_closing

    def _annotate(self, client: str, incident: str, text: str) -> None:
        known = is_incident_id(self._config.room, incident) and (
            incident == self._current_incident or self._config.storage.incident_path(incident).is_file()
        )  # the id is checked first: a path or an over-long name never reaches the file system
        if not known:
            raise ProtocolError(ErrorCode.UNKNOWN_INCIDENT, f"no incident {incident!r} in this room")
        self._write_audit("annotation", incident=incident, client=client, text=text)

    def _write_audit(self, event: str, **data: Any) -> None:
        """An entry that must be durable before the room acts. Raises StepFailed."""
        try:
            self.audit.write(event, **data)
        except AuditFailed as failure:
            raise StepFailed("audit_append", failure) from failure


def _layout(path: Path) -> dict[str, int]:
    """What a failed incident's file holds, from its layout alone (the device cannot decrypt it)."""
    try:
        chunks, tail = sealed_layout(path)
    except (OSError, ValueError):
        return {"chunks": 0, "tail_bytes": 0}
    return {"chunks": chunks, "tail_bytes": tail}

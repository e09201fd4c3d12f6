"""The room's uploader: one background thread, owned by the daemon, that follows the audit log and
ships what it says to the vault — checkpoints of the log, closed incidents, legal holds — retrying
with backoff. Never on the capture or trigger path: the room only sees `degraded: vault`.

Threads: the uploader's own thread does all the work; the daemon's control thread only calls
`start` and `stop`. Health reports go through `StatusSink` (a queue the control thread drains).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from recorder.audit.log import AuditLog
from recorder.audit.witness import actor
from recorder.config import RoomConfig, VaultConfig
from recorder.durable import fsync_directory
from recorder.errors import StorageError, VaultError
from recorder.retention import hold_marker
from recorder.vault.checkpoints import Cursor, Diverged, next_segment, resync, upload_segment, vault_cursor
from recorder.vault.client import S3Client, describe, error_code, make_client, read_credentials
from recorder.vault.holds import set_legal_hold
from recorder.vault.incidents import IncidentUpload, Stopped, upload_incident
from recorder.vault.layout import Location, incident_key, room_location
from recorder.vault.ledger import URGENT, Follower, Incident, Ledger

log = structlog.get_logger()

VAULT = "vault"
"""The part `degraded` names while the vault cannot be reached or refuses."""
POLL_S = 1.0
FIRST_RETRY_S = 0.5
STOP_JOIN_S = 10.0

UPLOAD_NICE = 10
"""The uploader thread's nice value: capture and control threads (0) win the CPU over uploading and
hashing, in this process and against every other room's uploads on the box (20 rooms uploading at
once on 2 cores made a test-pattern capture thread fall 9 frames behind)."""

HealthSink = Callable[[str, bool, str], None]


def _yield_cpu_to_capture() -> None:
    """Lower this thread's CPU priority (Linux: each thread has its own nice value)."""
    thread = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread, max(UPLOAD_NICE, os.getpriority(os.PRIO_PROCESS, thread)))
    except OSError as error:  # lowering one's priority needs no right; if refused, upload anyway
        log.warning("vault_uploader_priority_unchanged", error=str(error))


class VaultUploader:
    def __init__(
        self, config: RoomConfig, health: HealthSink, between_parts: Callable[[], None] | None = None
    ):
        assert config.vault is not None
        self._config = config
        self._vault: VaultConfig = config.vault
        self._room: Location = room_location(config.vault.bucket, config.vault.prefix, config.room)
        self._health = health
        self._hook = between_parts or (lambda: None)  # tests: act at a known point of an upload
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vault-uploader", daemon=True)
        self._follower = Follower(config.storage.audit_path)
        self._ledger = Ledger()
        self._client: S3Client | None = None
        self._credentials_mtime = 0.0
        self._cursor: Cursor | None = None
        self._checkpoint_due = float("inf")  # monotonic time
        self._failing: str | None = None
        self._skipped: set[str] = set()  # incidents whose local file cannot be read, until restart
        self._audit: AuditLog | None = None
        self._log = log.bind(room=config.room, vault=str(self._room))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop between two requests (an upload in progress resumes at the next start) and join."""
        self._stop.set()
        self._thread.join(STOP_JOIN_S)
        if self._thread.is_alive():
            self._log.error("vault_uploader_stop_timed_out", timeout_s=STOP_JOIN_S)
        elif self._audit is not None:
            self._audit.close()

    # -- the thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        _yield_cpu_to_capture()
        delay = FIRST_RETRY_S
        while not self._stop.is_set():
            try:
                busy = self._step()
            except Stopped:
                break
            except Exception as error:  # the thread's top: whatever failed, wait and try again
                self._failed(error)
                self._stop.wait(delay)
                delay = min(delay * 2, self._vault.retry_max_s)
                continue
            self._recovered()
            delay = FIRST_RETRY_S
            if not busy:
                self._stop.wait(POLL_S)

    def _step(self) -> bool:
        """One round: read the log, then the most urgent work. True if there may be more to do."""
        self._follow()
        client = self._connect()
        if self._cursor is None:
            self._cursor = vault_cursor(client, self._room)
            self._log.info("vault_connected", audit_seq=self._cursor.seq)
        self._checkpoint_if_due(client)
        for item in self._ledger.holds_to_apply():
            self._apply_hold(client, item)
        pending = [i for i in self._ledger.to_upload() if i.incident not in self._skipped]
        if pending:
            self._upload(client, pending[0])
            return True
        return False

    def _follow(self) -> None:
        for entry in self._follower.new_entries():
            self._ledger.feed(entry)
            due = time.monotonic() + (0 if entry.event in URGENT else self._vault.checkpoint_interval_s)
            self._checkpoint_due = min(self._checkpoint_due, due)

    def _connect(self) -> S3Client:
        """The client, made again when the credentials file changed (fixing it needs no restart)."""
        path = self._vault.credentials
        mtime = path.stat().st_mtime
        if self._client is None or mtime != self._credentials_mtime:
            self._client = make_client(self._vault.endpoint, read_credentials(path), self._vault.region)
            self._credentials_mtime = mtime
        return self._client

    # -- checkpoints ----------------------------------------------------------------------------
    def _checkpoint_if_due(self, client: S3Client) -> None:
        if time.monotonic() < self._checkpoint_due:
            return
        assert self._cursor is not None
        path = self._config.storage.audit_path
        while True:
            try:
                segment = next_segment(path, self._cursor)
            except Diverged as why:
                self._log.error("vault_checkpoint_diverged", reason=str(why), vault_seq=self._cursor.seq)
                self._cursor = resync(path, self._cursor)
                continue
            if segment is None:
                break
            until = datetime.now(UTC) + timedelta(days=self._vault.audit_retention_days)
            key = upload_segment(client, self._room, segment, until)
            self._cursor = segment.end
            self._log.info(
                "vault_checkpoint_uploaded", key=key, first_seq=segment.first_seq, last_seq=segment.last_seq
            )
        self._checkpoint_due = float("inf")

    def _between_parts(self) -> None:
        if self._stop.is_set():
            raise Stopped
        self._hook()
        if self._client is not None and self._cursor is not None:
            self._follow()
            self._checkpoint_if_due(self._client)

    # -- incidents ------------------------------------------------------------------------------
    def _upload(self, client: S3Client, item: Incident) -> None:
        path = self._config.storage.incident_path(item.incident)
        until = item.retain_until(self._config.storage.retention_days)
        now = datetime.now(UTC)
        if not path.is_file() or until is None or (until <= now and not item.on_hold):
            why = "no local file" if not path.is_file() else "start unknown" if until is None else "expired"
            self._log.warning("vault_upload_skipped", incident=item.incident, why=why)
            self._skipped.add(item.incident)
            return
        job = IncidentUpload(
            incident=item.incident,
            room=self._config.room,
            path=path,
            bucket=self._room.bucket,
            key=incident_key(self._room, item.incident),
            retain_until=max(until, now + timedelta(days=1)),
            legal_hold=item.on_hold,
        )
        started = time.monotonic()
        try:
            done = upload_incident(client, job, self._vault.part_size_mb << 20, self._between_parts)
        except OSError as error:
            self._log.error(
                "vault_upload_skipped", incident=item.incident, why=f"local file: {error.strerror}"
            )
            self._skipped.add(item.incident)
            return
        self._append(
            "incident_uploaded",
            incident=item.incident,
            file=path.name,
            size=done.size,
            sha256=done.sha256,
            bucket=job.bucket,
            key=done.key,
            version_id=done.version_id,
            retain_until=done.retain_until,
            legal_hold=done.legal_hold,
            parts=done.parts,
            resumed_parts=done.resumed_parts,
            already_there=done.already_there,
            verified="read back: size and SHA-256",
            duration_s=round(time.monotonic() - started, 3),
        )
        if self._vault.remove_local:
            self._remove_local(item, path, done.key, done.version_id, done.size, done.sha256)

    def _remove_local(
        self, item: Incident, path: Path, key: str, version: str | None, size: int, sha256: str
    ) -> None:
        """The local copy goes only after the verified upload is audited, and is audited itself."""
        self._append(
            "incident_local_removed",
            incident=item.incident,
            file=path.name,
            size=size,
            sha256=sha256,
            key=key,
            version_id=version,
            actor=actor(),
        )
        path.unlink(missing_ok=True)
        hold_marker(path).unlink(missing_ok=True)
        fsync_directory(path.parent)
        item.gone = True
        self._log.info("incident_local_removed", incident=item.incident, key=key)

    def _apply_hold(self, client: S3Client, item: Incident) -> None:
        assert item.uploaded is not None
        set_legal_hold(
            client,
            self._room.bucket,
            str(item.uploaded["key"]),
            item.uploaded.get("version_id"),
            item.on_hold,
        )
        item.hold_unapplied = False
        self._log.info("vault_legal_hold_set", incident=item.incident, on=item.on_hold)

    def _append(self, event: str, **data: object) -> dict[str, object]:
        """Raises StorageError (the upload is then verified again and audited at the next try)."""
        if self._audit is None:
            self._audit = AuditLog(self._config.storage.audit_path)
        return self._audit.append(event, **data)

    # -- health ---------------------------------------------------------------------------------
    def _failed(self, error: BaseException) -> None:
        if isinstance(error, StorageError):
            self._log.error("vault_audit_failed", error=str(error))
            return
        detail = str(error) if isinstance(error, VaultError) else f"unreachable or refused: {describe(error)}"
        if error_code(error) == "InvalidRequest":
            detail += " (is Object Lock enabled on the bucket?)"
        if detail != self._failing:
            self._log.warning("vault_failed", detail=detail)
        if self._failing is None:
            self._health(VAULT, False, detail)
        self._failing = detail

    def _recovered(self) -> None:
        if self._failing is not None:
            self._failing = None
            self._health(VAULT, True, "vault reachable again")
            self._log.info("vault_recovered")

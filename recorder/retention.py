"""Retention and legal hold, decided from the audit log: incidents older than `retention_days` (counted
from their own start) are deleted unless a hold was placed and not released; each deletion and each
hold is an audit entry naming who acted and the file's SHA-256 and size."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from recorder.audit.log import AuditLog
from recorder.audit.reader import entries
from recorder.audit.trail import IncidentTrail, trails
from recorder.audit.witness import actor
from recorder.config import RoomConfig
from recorder.durable import fsync_directory
from recorder.errors import AuditError, RetentionError
from recorder.incident.ids import is_incident_id
from recorder.messages import _

log = structlog.get_logger()

HOLD_SUFFIX = ".hold"
DAY_S = 86_400


@dataclass(frozen=True)
class Expired:
    path: Path
    age_days: float
    on_hold: bool
    started: datetime


def hold_marker(incident_file: Path) -> Path:
    """A convenience copy of the hold for people browsing the directory; never the authority."""
    return incident_file.with_name(incident_file.name + HOLD_SUFFIX)


def room_trails(config: RoomConfig) -> dict[str, IncidentTrail]:
    """The room's incident trails from its audit log. Raises AuditError if the log cannot be read."""
    path = config.storage.audit_path
    try:
        return trails(entries(path)) if path.exists() else {}
    except OSError as error:
        raise AuditError(
            _("{path}: cannot read the audit log ({strerror})").format(path=path, strerror=error.strerror)
        ) from None


def retention_due(trail: IncidentTrail, config: RoomConfig) -> datetime | None:
    start = trail.start_time
    return start + timedelta(days=config.storage.retention_days) if start else None


def find_expired(config: RoomConfig, now: float | None = None) -> list[Expired]:
    """Incident files whose start is longer ago than the retention period (held ones included,
    flagged). A file whose start is neither in the log nor in its name is never deleted."""
    moment = datetime.fromtimestamp(now, UTC) if now is not None else datetime.now(UTC)
    known = room_trails(config)
    expired = []
    for path in config.storage.incident_files():
        trail = known.get(path.stem) or IncidentTrail(path.stem)
        start = trail.start_time
        if start is None:
            log.warning("retention_undated", file=str(path), action="kept: its start is not known")
            continue
        age = moment - start
        if age > timedelta(days=config.storage.retention_days):
            on_hold = trail.on_hold or _held_by_marker_only(path, trail)
            expired.append(Expired(path, round(age.total_seconds() / DAY_S, 2), on_hold, start))
    return expired


def _held_by_marker_only(path: Path, trail: IncidentTrail) -> bool:
    """A `.hold` marker with no hold history in the log: the log that recorded the hold was rotated,
    lost or replaced (its history starts after a `log_gap`). The log cannot say the hold was released,
    so the incident is kept: a deletion cannot be undone. Where the log has the incident's holds, it
    alone decides."""
    if trail.holds or not hold_marker(path).exists():
        return False
    log.warning(
        "retention_kept_by_hold_marker",
        incident=path.stem,
        action="the audit log has no hold history for it (rotated or lost?): kept; release it with "
        "`recorder hold --release` once the hold is over",
    )
    return True


def purge(
    config: RoomConfig, audit: AuditLog, *, dry_run: bool = False, now: float | None = None
) -> list[Expired]:
    """Delete expired incidents not on hold, each audited before it is removed. Returns every expired
    incident: those not `on_hold` were (or, with dry_run, would be) deleted, the held ones kept.
    Raises StorageError if the audit cannot be written (then nothing more is deleted: a deletion is
    never unaccounted for) and AuditError if the log cannot be read (holds are not known)."""
    expired = find_expired(config, now)
    for item in expired:
        if item.on_hold:
            log.info("retention_skipped_hold", incident=item.path.stem, age_days=item.age_days)
            continue
        if dry_run:
            continue
        audit.append(
            "incident_deleted",
            incident=item.path.stem,
            **file_facts(item.path),
            started=item.started.isoformat().replace("+00:00", "Z"),
            age_days=item.age_days,
            retention_days=config.storage.retention_days,
            actor=actor(),
        )
        item.path.unlink(missing_ok=True)
        hold_marker(item.path).unlink(missing_ok=True)
        fsync_directory(item.path.parent)
        log.info("incident_deleted", incident=item.path.stem, age_days=item.age_days)
    return expired


def set_hold(
    config: RoomConfig, audit: AuditLog, incident: str, reason: str, release: bool = False
) -> str | None:
    """Place (or release) a legal hold on an incident, audited with who acted and the file's digest;
    with a vault, also on the vault's copy. Returns what happened in the vault (None without one).

    An incident whose local copy was removed after a verified upload can still be held: the facts
    are then those its `incident_uploaded` entry recorded. Raises RetentionError for an unknown
    incident, a release of an incident not on hold, or a hold on one already held (nothing is
    written then); StorageError, AuditError.
    """
    if not is_incident_id(config.room, incident):  # before the name reaches the file system
        raise RetentionError(
            _("{incident!r} is not an incident id of room {room}").format(incident=incident, room=config.room)
        )
    path = config.storage.incident_path(incident)
    trail = room_trails(config).get(incident) or IncidentTrail(incident)
    uploaded = trail.uploaded
    if not path.is_file() and uploaded is None:
        raise RetentionError(
            _("no incident {incident!r} in {directory}").format(
                incident=incident, directory=config.storage.directory
            )
        )
    if release and not (trail.on_hold or (path.is_file() and _held_by_marker_only(path, trail))):
        raise RetentionError(
            _("{incident} is not on legal hold: nothing to release").format(incident=incident)
        )
    if not release and trail.on_hold:
        since = trail.holds[-1]
        raise RetentionError(
            _("{incident} is already on legal hold (since {time}, seq {seq})").format(
                incident=incident, time=since.time, seq=since.seq
            )
        )
    event = "hold_released" if release else "hold_placed"
    if path.is_file():
        facts = file_facts(path)
    else:
        assert uploaded is not None
        facts = {name: uploaded.data.get(name) for name in ("file", "size", "sha256")}
    audit.append(event, incident=incident, reason=reason, **facts, actor=actor())
    if path.is_file():
        _write_marker(path, reason, release)
    return _vault_hold(config, uploaded.data if uploaded else None, on=not release)


def _write_marker(path: Path, reason: str, release: bool) -> None:
    marker = hold_marker(path)
    marker.unlink(missing_ok=True)  # whatever stands there: never written through (a link to /etc/…)
    if not release:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(marker, flags, 0o600)
        try:
            os.write(fd, f"{reason}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    fsync_directory(path.parent)


def _vault_hold(config: RoomConfig, uploaded: dict[str, Any] | None, on: bool) -> str | None:
    """The vault's legal hold follows the audited one. When it cannot be set now (not uploaded yet,
    the vault unreachable), the daemon's uploader sets it from the log later."""
    if config.vault is None:
        return None
    if uploaded is None:
        return _("not in the vault yet: it is uploaded with the hold as the audit log then records it")
    from recorder.vault.client import describe, make_client, read_credentials
    from recorder.vault.holds import set_legal_hold

    try:
        client = make_client(
            config.vault.endpoint, read_credentials(config.vault.credentials), config.vault.region
        )
        set_legal_hold(client, config.vault.bucket, str(uploaded["key"]), uploaded.get("version_id"), on)
    except Exception as error:  # recorded locally either way; the daemon retries from the log
        log.warning("vault_hold_deferred", error=describe(error))
        return _("NOT set in the vault now ({error}); the daemon sets it once the vault is reachable").format(
            error=describe(error)
        )
    done = _("legal hold ON on {key} in the vault") if on else _("legal hold OFF on {key} in the vault")
    return done.format(key=uploaded["key"])


def file_facts(path: Path) -> dict[str, object]:
    """The file's name, size and SHA-256, read before anything is done to it. Raises OSError."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return {"file": path.name, "size": size, "sha256": digest.hexdigest()}

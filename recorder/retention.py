"""Retention: incidents older than `retention_days` are deleted unless on legal hold; each deletion
and each hold is an audit entry."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from recorder.audit.log import AuditLog
from recorder.config import RoomConfig
from recorder.durable import fsync_directory

log = structlog.get_logger()

HOLD_SUFFIX = ".hold"
DAY_S = 86_400


@dataclass(frozen=True)
class Expired:
    path: Path
    age_days: float
    on_hold: bool


def hold_marker(incident_file: Path) -> Path:
    return incident_file.with_name(incident_file.name + HOLD_SUFFIX)


def find_expired(config: RoomConfig, now: float | None = None) -> list[Expired]:
    """Incident files whose last write is older than the retention period (held ones included,
    flagged). The age counts from the incident's last write, i.e. from the end of the recording."""
    now = time.time() if now is None else now
    limit_s = config.storage.retention_days * DAY_S
    expired = []
    for path in config.storage.incident_files():
        try:
            age_s = now - path.stat().st_mtime
        except FileNotFoundError:
            continue
        if age_s > limit_s:
            expired.append(Expired(path, round(age_s / DAY_S, 2), hold_marker(path).exists()))
    return expired


def purge(
    config: RoomConfig, audit: AuditLog, *, dry_run: bool = False, now: float | None = None
) -> list[Expired]:
    """Delete expired incidents not on hold, each audited before it is removed. Returns every expired
    incident: those not `on_hold` were (or, with dry_run, would be) deleted, the held ones kept.
    Raises StorageError if the audit cannot be written (then nothing more is deleted: a deletion is
    never unaccounted for)."""
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
            file=item.path.name,
            age_days=item.age_days,
            retention_days=config.storage.retention_days,
        )
        item.path.unlink(missing_ok=True)
        fsync_directory(item.path.parent)
        log.info("incident_deleted", incident=item.path.stem, age_days=item.age_days)
    return expired


def set_hold(config: RoomConfig, audit: AuditLog, incident: str, reason: str, release: bool = False) -> Path:
    """Place (or release) a legal hold on an incident. Raises FileNotFoundError for an unknown one."""
    path = config.storage.incident_path(incident)
    if not path.is_file():
        raise FileNotFoundError(f"no incident {incident!r} in {config.storage.directory}")
    marker = hold_marker(path)
    audit.append("hold_released" if release else "hold_placed", incident=incident, reason=reason)
    if release:
        marker.unlink(missing_ok=True)
    else:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        os.write(fd, f"{reason}\n".encode())
        os.fsync(fd)
        os.close(fd)
    fsync_directory(path.parent)
    return marker

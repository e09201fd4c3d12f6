"""What the auditor's report says, per room, for a period: gathered from logs, keys and incident files."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path

from recorder.audit.accounting import Finding, account
from recorder.audit.reader import entries
from recorder.audit.trail import IncidentTrail, parse_time, trails
from recorder.audit.verify import VerifyReport, load_initial_key, verify

DEFAULT_RETENTION_DAYS = 14
DELETION_SLACK = timedelta(days=1)
"""A deletion this long after the due date still counts as in time (purge runs hourly, at start)."""


class RetentionState(enum.Enum):
    """What happened to an incident against the retention rule."""

    DELETED_EARLY = "deleted_early"
    DELETED_LATE = "deleted_late"
    DELETED_IN_TIME = "deleted_in_time"
    ON_HOLD = "on_hold"
    OVERDUE = "overdue"
    KEPT = "kept"


@dataclass(frozen=True)
class Retention:
    state: RetentionState
    due: datetime
    deleted: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.state in (RetentionState.DELETED_IN_TIME, RetentionState.ON_HOLD, RetentionState.KEPT)

    @property
    def days_late(self) -> int:
        return (self.deleted - self.due).days if self.deleted else 0


@dataclass(frozen=True)
class IncidentRow:
    trail: IncidentTrail
    retention: Retention
    justification_missing: bool


@dataclass
class RoomReport:
    log: Path
    room: str
    verdict: VerifyReport
    key_given: bool
    retention_days: int
    rows: list[IncidentRow] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    label: str = ""  # where the log came from, as the report shows it


@dataclass(frozen=True)
class VaultEvidence:
    """A room's log taken from the vault (recorder/vault/audit_copy.py): where, what the vault itself
    showed wrong, and which incidents it stores (accounted instead of files on disk)."""

    label: str
    problems: list[str]
    findings: list[Finding]


@dataclass(frozen=True)
class Period:
    since: datetime | None
    until: datetime | None

    def covers(self, moment: datetime | None) -> bool:
        if moment is None:
            return False
        return (self.since is None or moment >= self.since) and (self.until is None or moment < self.until)


def build_room(
    log: Path,
    key: Path | None,
    period: Period,
    retention_days: int | None,
    now: datetime,
    vault: VaultEvidence | None = None,
) -> RoomReport:
    """One room's part of the report. Raises AuditError for an unreadable key or log."""
    verdict = verify(log, load_initial_key(key) if key else None)
    if vault is not None:
        verdict.problems.extend(vault.problems)
    known = trails(entries(log))
    days = retention_days or _retention_from_log(known) or DEFAULT_RETENTION_DAYS
    room = next((t.room for t in known.values() if t.room), None) or log.parent.name
    report = RoomReport(log, room, verdict, key is not None, days, label=vault.label if vault else str(log))
    in_period = {
        name: t for name, t in known.items() if t.started is not None and period.covers(t.start_time)
    }
    report.rows = [_row(trail, days, now) for trail in in_period.values()]
    found = vault.findings if vault else account(known, log.parent)
    report.findings = [f for f in found if f.incident in in_period or f.incident not in known]
    return report


def triggers_per_week(rooms: list[RoomReport], zone: tzinfo = UTC) -> list[tuple[date, int]]:
    """(Monday of the ISO week in `zone`, incidents started that week), every week from the first to
    the last."""
    weeks = Counter(
        _monday(row.trail.start_time, zone) for room in rooms for row in room.rows if row.trail.start_time
    )
    if not weeks:
        return []
    first, last = min(weeks), max(weeks)
    return [
        (first + timedelta(weeks=n), weeks[first + timedelta(weeks=n)])
        for n in range((last - first).days // 7 + 1)
    ]


def _monday(moment: datetime, zone: tzinfo) -> date:
    day = moment.astimezone(zone).date()
    return day - timedelta(days=day.weekday())


def _row(trail: IncidentTrail, days: int, now: datetime) -> IncidentRow:
    return IncidentRow(trail, _retention(trail, days, now), trail.justification_missing(now))


def _retention(trail: IncidentTrail, days: int, now: datetime) -> Retention:
    start = trail.start_time
    assert start is not None
    due = start + timedelta(days=days)
    if trail.deleted is not None:
        deleted = parse_time(trail.deleted.time)
        if deleted < due:
            return Retention(RetentionState.DELETED_EARLY, due, deleted)
        if deleted - due > DELETION_SLACK:
            return Retention(RetentionState.DELETED_LATE, due, deleted)
        return Retention(RetentionState.DELETED_IN_TIME, due, deleted)
    if trail.on_hold:
        return Retention(RetentionState.ON_HOLD, due)
    if now > due + DELETION_SLACK:
        return Retention(RetentionState.OVERDUE, due)
    return Retention(RetentionState.KEPT, due)


def _retention_from_log(known: dict[str, IncidentTrail]) -> int | None:
    for trail in reversed(list(known.values())):
        days = trail.deleted.data.get("retention_days") if trail.deleted else None
        if isinstance(days, int):
            return days
    return None

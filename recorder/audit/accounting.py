"""Is every incident accounted for? A start, a close, and either its file on disk or a deletion entry;
and no incident file on disk without an audited start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recorder.audit.trail import IncidentTrail
from recorder.messages import _


@dataclass(frozen=True)
class Finding:
    incident: str
    problem: str


def account(known: dict[str, IncidentTrail], incident_dir: Path | None) -> list[Finding]:
    """Every gap in the accounting, in incident order. `incident_dir` None: files are not checked."""
    on_disk = {path.stem for path in incident_dir.glob("*.age")} if incident_dir is not None else None
    findings = []
    for incident, trail in known.items():
        if trail.started is None:
            continue  # named only by a hold or a deletion of a file from before this log
        if trail.closed is None:
            findings.append(
                Finding(incident, _("no incident_closed entry (still recording, or cut by a crash)"))
            )
        if on_disk is None:
            continue
        if trail.deleted is None and trail.local_removed is None and incident not in on_disk:
            findings.append(Finding(incident, _("its file is gone without an incident_deleted entry")))
        if trail.deleted is not None and incident in on_disk:
            findings.append(
                Finding(
                    incident,
                    _("deleted at seq {seq} but its file is still on disk").format(seq=trail.deleted.seq),
                )
            )
    for incident in sorted(on_disk or ()):
        named = known.get(incident)
        if named is None or named.started is None:
            findings.append(Finding(incident, _("a file on disk without an incident_started entry")))
    return findings

"""The vault's copy of a room's audit log, as the auditor's witness: every checkpoint segment, the
(seq, hash) each ends with, and any seq the vault holds twice with different hashes (a rolled-back
and rewritten device log)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from recorder.audit.accounting import Finding
from recorder.audit.trail import IncidentTrail
from recorder.audit.verify import Witness
from recorder.messages import _
from recorder.vault.checkpoints import entries_of, fetch_segments
from recorder.vault.client import S3Client
from recorder.vault.layout import Location


@dataclass
class VaultCopy:
    location: Location
    segments: list[tuple[str, bytes]] = field(default_factory=list)
    witnesses: list[Witness] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    incidents: set[str] = field(default_factory=set)  # incident ids stored in the vault

    @property
    def last_seq(self) -> int | None:
        return max((seq for seq, _ in self.witnesses), default=None)

    def write_log(self, path: Path) -> Path:
        """The segments one after the other: the log as the vault saw it."""
        with path.open("wb") as out:
            for _key, data in self.segments:
                out.write(data)
        return path

    def summary(self) -> str:
        if not self.segments:
            return _("{location}: no audit checkpoints in the vault").format(location=self.location)
        return _("{location}: {count} checkpoint(s), entries up to seq {seq}").format(
            location=self.location, count=len(self.segments), seq=self.last_seq
        )


def fetch_copy(client: S3Client, room: Location, incidents: set[str] | None = None) -> VaultCopy:
    """Raises VaultError (a segment whose bytes changed), botocore errors."""
    copy = VaultCopy(room, incidents=incidents or set())
    seen: dict[int, str] = {}
    for key, data in fetch_segments(client, room):
        copy.segments.append((key, data))
        last = None
        for entry in entries_of(data):
            known = seen.setdefault(entry.seq, entry.hash)
            if known != entry.hash:
                copy.problems.append(
                    _(
                        "the vault holds two different entries with seq {seq} (the device log was rolled "
                        "back and written again; see {key})"
                    ).format(seq=entry.seq, key=key)
                )
            last = entry
        if last is not None:
            copy.witnesses.append((last.seq, last.hash))
    if not copy.segments:
        copy.problems.append(
            _("no audit checkpoints under {room}: nothing to check the log against").format(room=room)
        )
    return copy


def vault_findings(known: dict[str, IncidentTrail], stored: set[str]) -> list[Finding]:
    """Incidents the log says were uploaded but the vault lacks, and objects without a start."""
    findings = []
    for incident, trail in known.items():
        if trail.uploaded is not None and incident not in stored:
            findings.append(
                Finding(
                    incident, _("uploaded (seq {seq}) but not in the vault").format(seq=trail.uploaded.seq)
                )
            )
    for incident in sorted(stored):
        named = known.get(incident)
        if named is None or named.started is None:
            findings.append(Finding(incident, _("in the vault without an incident_started entry")))
    return findings

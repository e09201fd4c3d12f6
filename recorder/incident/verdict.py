"""With the audit log at hand, tell a complete incident file from one cut by a crash and one damaged
afterwards: `incident_closed` records the chunks and plaintext bytes the writer finished with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recorder.audit.reader import entries
from recorder.audit.trail import IncidentTrail, trails
from recorder.errors import AuditError
from recorder.incident.age_reader import DecryptResult
from recorder.messages import _

COMPLETE, TRUNCATED, DAMAGED = "complete", "truncated", "damaged"


@dataclass(frozen=True)
class Verdict:
    kind: str  # COMPLETE, TRUNCATED (cut by a crash, as the log expects) or DAMAGED
    detail: str

    @property
    def ok(self) -> bool:
        return self.kind != DAMAGED

    def line(self) -> str:
        return f"{self.kind.upper()}: {self.detail}"


def classify(incident: str, decrypted: DecryptResult, log_path: Path) -> Verdict:
    """Compare what decryption found with what the log says the writer wrote. Raises AuditError."""
    try:
        trail = trails(entries(log_path)).get(incident) or IncidentTrail(incident)
    except OSError as error:
        raise AuditError(
            _("{path}: cannot read the audit log ({strerror})").format(path=log_path, strerror=error.strerror)
        ) from None
    found = _("{chunks} chunks, {size} bytes").format(chunks=decrypted.chunks, size=decrypted.plaintext_bytes)
    if decrypted.dropped_tail_bytes:
        found += _(", then {size} bytes that fail authentication").format(size=decrypted.dropped_tail_bytes)
    if trail.started is None:
        return Verdict(
            DAMAGED,
            _("{incident} is not in {log}: no audited start (wrong log?)").format(
                incident=incident, log=log_path.name
            ),
        )
    closed = trail.closed
    if closed is None or trail.crash_cut or closed.data.get("error"):
        return _cut_by_crash(closed.data if closed else None, decrypted, found)
    written = _written(closed.data)
    if written is None:
        return Verdict(
            TRUNCATED if decrypted.truncated else COMPLETE,
            _("{found}; the close entry has no counts").format(found=found),
        )
    if not decrypted.truncated and (decrypted.chunks, decrypted.plaintext_bytes) == written:
        return Verdict(
            COMPLETE,
            _("{found}, as the log's incident_closed (seq {seq}) records").format(
                found=found, seq=closed.seq
            ),
        )
    return Verdict(
        DAMAGED,
        _(
            "the log closed it with {chunks} chunks, {size} bytes (seq {seq}); the file gives {found}: "
            "it was altered or cut after it was closed"
        ).format(chunks=written[0], size=written[1], seq=closed.seq, found=found),
    )


def _cut_by_crash(closed: dict[str, Any] | None, decrypted: DecryptResult, found: str) -> Verdict:
    """No regular close: the writer stopped early (crash, or a write error). What the log recorded
    then is the file's layout at that moment (start-up recovery's `incident_interrupted`, or a
    failed writer's `incident_closed`): a floor the file may never fall below."""
    floor = _chunks_on_disk(closed) if closed else None
    if floor is not None and decrypted.chunks < floor:
        return Verdict(
            DAMAGED,
            _("the log recorded {floor} complete chunks on disk; the file now gives {found}").format(
                floor=floor, found=found
            ),
        )
    if not decrypted.truncated:
        return Verdict(
            COMPLETE,
            _("{found}; the log has no regular close (the writer stopped after the end)").format(found=found),
        )
    why = (
        _("the writer failed: {error}").format(error=closed["error"])
        if closed and closed.get("error")
        else _("no regular close in the log")
    )
    return Verdict(TRUNCATED, _("cut by a crash ({why}); {found} recovered").format(why=why, found=found))


def _chunks_on_disk(data: dict[str, Any]) -> int | None:
    """`chunks` of `incident_interrupted`, or `output.chunks` of a failed writer's close."""
    output = data.get("output")
    chunks = output.get("chunks") if isinstance(output, dict) else data.get("chunks")
    return chunks if isinstance(chunks, int) and not isinstance(chunks, bool) else None


def _written(data: dict[str, Any]) -> tuple[int, int] | None:
    output = data.get("output")
    if not isinstance(output, dict):
        return None
    chunks, plain = output.get("chunks"), output.get("plaintext_bytes")
    return (chunks, plain) if isinstance(chunks, int) and isinstance(plain, int) else None

"""The auditor's side: verify a log's exact bytes, chain and forward-secure MACs from its initial key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from recorder.audit import chain
from recorder.audit.entry import Entry
from recorder.audit.reader import Line, read_entries, scan
from recorder.audit.state import WriterState
from recorder.errors import AuditError
from recorder.messages import _, ngettext

__all__ = ["VerifyReport", "Witness", "load_initial_key", "read_entries", "verify"]

Witness = tuple[int, str]
SEALERS = frozenset({"tail_sealed", "log_gap"})
MAX_GAP = 10_000_000
"""Largest gap in `seq` whose key the verifier derives (bounds the work a forged seq can cause)."""


@dataclass
class VerifyReport:
    entries: int = 0
    last_seq: int = -1
    last_hash: str = chain.GENESIS_HASH
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # visible facts that are not failures
    stopped_at_line: int | None = None  # the line verification could not get past

    @property
    def ok(self) -> bool:
        return not self.problems


def load_initial_key(path: Path) -> bytes:
    """Read the auditor's key file (hex, `#` comments allowed). Raises AuditError."""
    try:
        lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        key = bytes.fromhex(lines[0])
    except (OSError, IndexError, ValueError, UnicodeDecodeError) as error:
        raise AuditError(
            _("{path}: not an audit verification key ({error})").format(path=path, error=error)
        ) from None
    if len(key) != 32:
        raise AuditError(_("{path}: key must be 32 bytes").format(path=path))
    return key


@dataclass(frozen=True)
class _Where:
    """`line 12 (seq 11)`, in the process's language when formatted."""

    line: int
    seq: int

    def __format__(self, spec: str) -> str:
        return _("line {line} (seq {seq})").format(line=self.line, seq=self.seq)


@dataclass
class _Run:
    """Consecutive lines that are not entries: acceptable only if a seal right after describes them."""

    first: Line
    hasher: hashlib._Hash = field(default_factory=hashlib.sha256)
    length: int = 0

    def add(self, line: Line) -> None:
        self.hasher.update(line.raw)
        self.length += len(line.raw)

    def sealed_by(self, entry: Entry) -> bool:
        cut = entry.data.get("cut") if entry.event in SEALERS else None
        return (
            isinstance(cut, dict)
            and cut.get("offset") == self.first.offset
            and (cut.get("length") == self.length and cut.get("sha256") == self.hasher.hexdigest())
        )


class _Checker:
    """Walks the lines in order; stops at the first failure it cannot step over."""

    def __init__(self, initial_key: bytes | None, witnesses: list[Witness], report: VerifyReport) -> None:
        self.report = report
        self.key = initial_key  # K[expected]; None: MACs are not checked
        self.expected = 0
        self.version = 1
        self.witnesses = {seq: digest for seq, digest in witnesses}
        self.run: _Run | None = None
        self.stopped = False

    def feed(self, lines: Iterable[Line]) -> None:
        for line in lines:
            if line.entry is None:
                if self.run is None:
                    self.run = _Run(line)
                self.run.add(line)
            elif not self._entry(line, line.entry):
                return
        if self.run is not None:
            self._fail(
                self.run.first,
                _("{problem}; not sealed (sealed at the writer's next start)").format(
                    problem=self.run.first.problem
                ),
            )

    def _entry(self, line: Line, entry: Entry) -> bool:
        if self.run is not None:
            if not self.run.sealed_by(entry):
                return self._fail(self.run.first, str(self.run.first.problem))
            self.report.notes.append(
                _(
                    "line {line}: {length} bytes that are not entries (a write cut short by a crash) "
                    "were sealed by seq {seq} ({event})"
                ).format(line=self.run.first.number, length=self.run.length, seq=entry.seq, event=entry.event)
            )
            self.run = None
        where = _Where(line.number, entry.seq)  # made into words only for a problem
        if entry.version < self.version:
            problem = _("{where}: a version {version} entry after version {previous}")
            return self._fail(
                line, problem.format(where=where, version=entry.version, previous=self.version), located=True
            )
        out_of_chain = entry.seq != self.expected or entry.prev != self.report.last_hash
        if out_of_chain and (entry.event != "log_gap" or not self._gap(where, entry)):
            why = (
                _("entry deleted, inserted or reordered") if entry.seq != self.expected else _("chain broken")
            )
            problem = _("{where}: expected seq {seq} after hash {hash}… ({why})")
            return self._fail(
                line,
                problem.format(where=where, seq=self.expected, hash=self.report.last_hash[:12], why=why),
                located=True,
            )
        if self.key is not None and not entry.mac_ok(self.key):
            problem = _(
                "{where}: MAC does not verify (entry forged, re-MACed with a later key, or the wrong key)"
            )
            return self._fail(line, problem.format(where=where), located=True)
        self._accept(entry)
        return True

    def _gap(self, where: _Where, entry: Entry) -> bool:
        """A `log_gap` entry: the writer found entries missing at start. A failure, but verification
        goes on from it so that later tampering is still found."""
        if not self.expected <= entry.seq <= self.expected + MAX_GAP:
            return False
        missing = entry.seq - self.expected
        if self.key is not None:
            for _step in range(missing):
                self.key = chain.evolve(self.key)
        lost = (
            ngettext(
                "{count} entry (seq {first}..{last})", "{count} entries (seq {first}..{last})", missing
            ).format(count=missing, first=self.expected, last=entry.seq - 1)
            if missing
            else _("the last entry")
        )
        found = entry.data.get("found_last_seq")
        self.report.problems.append(
            _(
                "{where}: {lost} missing from the log: the device had written them "
                "(it found the log ending at seq {found}; recorded by log_gap at its start)"
            ).format(where=where, lost=lost, found=found)
        )
        self.expected = entry.seq
        return True

    def _accept(self, entry: Entry) -> None:
        report = self.report
        expected_hash = self.witnesses.pop(entry.seq, None)
        if expected_hash is not None and expected_hash != entry.hash:
            report.problems.append(
                _("seq {seq}: hash differs from the witness (entry replaced)").format(seq=entry.seq)
            )
        report.entries += 1
        report.last_seq, report.last_hash = entry.seq, entry.hash
        self.version = entry.version
        self.key = chain.evolve(self.key) if self.key is not None else None
        self.expected += 1

    def _fail(self, line: Line, problem: str, located: bool = False) -> bool:
        """`located`: the problem already names its line."""
        self.stopped = True
        self.report.stopped_at_line = line.number
        if not located:
            problem = _("line {line}{seq}: {problem}").format(
                line=line.number, seq=_seq_hint(line), problem=problem
            )
        self.report.problems.append(problem)
        return False


def verify(
    path: Path,
    initial_key: bytes | None,
    witness: Witness | list[Witness] | None = None,
    *,
    state: WriterState | None = None,
) -> VerifyReport:
    """Check every line's bytes, sequence, chain link, hash and MAC. Each `witness` = (seq, hash) of an
    entry known to exist (e.g. from the journal); `state` = a copy of the device's `audit.jsonl.key`.
    A log cut before either is reported as truncated. Without `initial_key` every check but the MACs
    (and the state's key) is made. Raises AuditError if the log cannot be read."""
    witnesses = [witness] if isinstance(witness, tuple) else list(witness or [])
    if state is not None and state.seq > 0:
        witnesses.append((state.seq - 1, state.prev))
    report = VerifyReport()
    checker = _Checker(initial_key, witnesses, report)
    try:
        checker.feed(scan(path))
    except OSError as error:
        raise AuditError(
            _("{path}: cannot read the audit log ({strerror})").format(path=path, strerror=error.strerror)
        ) from None
    if report.entries == 0 and not report.problems and (state is None or state.seq > 0):
        report.problems.append(
            _("the log is empty: no entries (a log is never empty after the daemon's first start)")
        )
    if checker.stopped:
        return report
    if initial_key is None:
        report.notes.append(_("MACs not checked (no verification key given): forged entries go unnoticed"))
    if state is not None:
        checker.witnesses.pop(state.seq - 1, None)
        report.problems.extend(_against_state(report, initial_key, state))
    for seq in checker.witnesses:
        report.problems.append(
            _("truncated: the log ends at seq {last}, a witness has seq {seq}").format(
                last=report.last_seq, seq=seq
            )
        )
    return report


def _against_state(report: VerifyReport, initial_key: bytes | None, state: WriterState) -> Iterator[str]:
    """The device state holds K[seq] and names its last entry (seq - 1, checked as a witness). Its key
    is checked only for a seq the log reaches: deriving K[seq] for any seq the state claims would let a
    forged state (seq 10**19) stop the verifier for ever; beyond the log it is truncation anyway."""
    within = state.seq <= report.last_seq + 1
    if initial_key is not None and within and chain.key_at(initial_key, state.seq) != state.key:
        yield _("the state's key is not this log's K[seq] (another log's state, or forged)")
    if not within:
        yield _(
            "truncated: the device state says {written} entries were written, the log ends at seq "
            "{last} (entries {first}..{missing} missing)"
        ).format(written=state.seq, last=report.last_seq, first=report.last_seq + 1, missing=state.seq - 1)


def _seq_hint(line: Line) -> str:
    try:
        seq = json.loads(line.raw).get("seq")
    except (ValueError, RecursionError, AttributeError):
        return ""
    return _(" (seq {seq})").format(seq=seq) if isinstance(seq, int) else ""

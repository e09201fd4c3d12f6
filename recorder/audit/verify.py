"""The auditor's side: verify a log's chain and forward-secure MACs from the initial key alone."""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recorder.audit import chain
from recorder.errors import AuditError


@dataclass
class VerifyReport:
    entries: int = 0
    last_seq: int = -1
    last_hash: str = chain.GENESIS_HASH
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def load_initial_key(path: Path) -> bytes:
    """Read the auditor's key file (hex, `#` comments allowed). Raises AuditError."""
    try:
        lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        key = bytes.fromhex(lines[0])
    except (OSError, IndexError, ValueError) as error:
        raise AuditError(f"{path}: not an audit verification key ({error})") from None
    if len(key) != 32:
        raise AuditError(f"{path}: key must be 32 bytes")
    return key


def read_entries(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line number, parsed entry or None if unparsable, raw line)."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                entry = json.loads(line)
            except ValueError:
                yield number, None, line
                continue
            yield number, entry if isinstance(entry, dict) else None, line


def verify(path: Path, initial_key: bytes, witness: tuple[int, str] | None = None) -> VerifyReport:
    """Check every entry: sequence, chain link, hash and MAC. `witness` = (seq, hash) of an entry
    known to exist (e.g. from the journal); a log cut before it is reported as truncated."""
    report = VerifyReport()
    key = initial_key
    for number, entry, _raw in read_entries(path):
        if entry is None:
            report.problems.append(f"line {number}: not a JSON object")
            break
        problem = _check_entry(entry, report.entries, report.last_hash, key)
        if problem:
            report.problems.append(f"line {number} (seq {entry.get('seq')}): {problem}")
            break
        report.entries += 1
        report.last_seq = int(entry["seq"])
        report.last_hash = str(entry["hash"])
        if witness is not None and report.last_seq == witness[0] and report.last_hash != witness[1]:
            report.problems.append(f"seq {witness[0]}: hash differs from the witness")
        key = chain.evolve(key)
    if witness is not None and report.ok and report.last_seq < witness[0]:
        report.problems.append(f"truncated: log ends at seq {report.last_seq}, witness has seq {witness[0]}")
    return report


def _check_entry(entry: dict[str, Any], expected_seq: int, prev: str, key: bytes) -> str | None:
    if entry.get("seq") != expected_seq:
        return f"expected seq {expected_seq} (entry deleted, inserted or reordered)"
    if entry.get("prev") != prev:
        return "prev does not match the previous entry's hash (chain broken)"
    body = {k: v for k, v in entry.items() if k not in ("hash", "mac")}
    digest = chain.entry_hash(body)
    if entry.get("hash") != digest:
        return "hash does not match the entry's content (entry edited)"
    if not hmac.compare_digest(str(entry.get("mac", "")), chain.entry_mac(key, digest)):
        return "MAC does not verify (entry forged or key mismatch)"
    return None

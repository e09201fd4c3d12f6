"""`recorder audit verify|list`: the auditor's command-line view of the log."""

from __future__ import annotations

import argparse
import json
import sys

from recorder.audit.verify import load_initial_key, read_entries, verify
from recorder.errors import AuditError


def audit_command(args: argparse.Namespace) -> int:
    """Exit 0 when the log verifies (or was listed), 1 when it does not. Raises AuditError on bad input."""
    if not args.log.is_file():
        raise AuditError(f"{args.log}: no such audit log")
    if args.action == "verify":
        return _verify(args)
    return _list(args)


def _parse_witness(text: str | None) -> tuple[int, str] | None:
    if not text:
        return None
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise AuditError("--witness must be SEQ:HASH (64 hex digits)")
    return int(seq), digest


def _verify(args: argparse.Namespace) -> int:
    report = verify(args.log, load_initial_key(args.key), _parse_witness(args.witness))
    if report.ok:
        print(f"OK: {report.entries} entries, chain and MACs verify")
        print(f"witness: {report.last_seq}:{report.last_hash}")
        if not args.witness:
            print("note: without --witness, removal of the newest entries cannot be detected")
        return 0
    print(f"FAILED after {report.entries} good entries:", file=sys.stderr)
    for problem in report.problems:
        print(f"  {problem}", file=sys.stderr)
    return 1


def _list(args: argparse.Namespace) -> int:
    for number, entry, raw in read_entries(args.log):
        if entry is None:
            print(f"{number:>6}  (unreadable line) {raw.strip()[:80]}")
            continue
        data = entry.get("data", {})
        detail = " ".join(f"{k}={json.dumps(v)}" for k, v in data.items() if v is not None)
        print(f"{entry.get('seq', '?'):>6}  {entry.get('time', '?')}  {entry.get('event', '?'):<18} {detail}")
    return 0

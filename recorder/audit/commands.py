"""`recorder audit verify|list|check|report`: the auditor's command-line view of the log.

Exit codes: 0 the log verifies (and, for `check`, every incident is accounted for); 1 it does not,
or an input is unreadable (one line on stderr says which).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from recorder.audit import listing
from recorder.audit.accounting import account
from recorder.audit.reader import entries, scan
from recorder.audit.state import read_state_file
from recorder.audit.trail import trails
from recorder.audit.verify import VerifyReport, Witness, load_initial_key, verify
from recorder.errors import AuditError
from recorder.i18n import process_language
from recorder.local_times import LocalTimes
from recorder.messages import _

EXIT_OK, EXIT_FAILED = 0, 1


def audit_command(args: argparse.Namespace) -> int:
    """Raises AuditError on unreadable input, VaultError when the vault cannot be read."""
    for log in [args.log] if isinstance(args.log, Path) else args.log or []:
        if not log.is_file():
            raise AuditError(_("{log}: no such audit log").format(log=log))
    if args.action == "verify":
        return _verify(args)
    if args.action == "list":
        return _list(args)
    if args.action == "check":
        return _check(args)
    return _report(args)


def parse_witness(text: str) -> Witness:
    """`SEQ:HASH`. Raises AuditError."""
    seq, _colon, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64 or digest.strip("0123456789abcdef"):
        raise AuditError(
            _("--witness {text!r}: expected SEQ:HASH (64 lowercase hex digits)").format(text=text)
        )
    return int(seq), digest


def print_verdict(report: VerifyReport, out: TextIO) -> None:
    """The verdict: `OK: …` or `FAILED …` with one line per problem, then the notes."""
    if report.ok:
        print(
            _("OK: {entries} entries verify (exact bytes, chain and MACs)").format(entries=report.entries),
            file=out,
        )
    else:
        print(_("FAILED after {entries} good entries:").format(entries=report.entries), file=out)
    for problem in report.problems:
        print(f"  {problem}", file=out)
    for note in report.notes:
        print(_("note: {note}").format(note=note), file=out)


def _verify(args: argparse.Namespace) -> int:
    witnesses = [parse_witness(text) for text in args.witness or []]
    state = read_state_file(args.state) if args.state else None
    key = load_initial_key(args.key)
    vault_problems: list[str] = []
    if args.vault:
        from recorder.vault.commands import vault_copy

        copy = vault_copy(args, args.vault)
        print(_("vault: {state}").format(state=copy.summary()))
        witnesses += copy.witnesses
        vault_problems = copy.problems
    report = verify(args.log, key, witnesses, state=state)
    report.problems.extend(vault_problems)
    print_verdict(report, sys.stdout if report.ok else sys.stderr)
    if report.ok:
        print(f"witness: {report.last_seq}:{report.last_hash}")
        if not witnesses and state is None and not args.vault:
            print(_("note: without --witness or --state, removal of the newest entries cannot be detected"))
    return EXIT_OK if report.ok else EXIT_FAILED


def local_times(args: argparse.Namespace) -> LocalTimes:
    """The zone of `--timezone` (default Europe/Amsterdam), in the process's language. Raises AuditError."""
    try:
        return LocalTimes.named(args.timezone, process_language())
    except ValueError as error:
        raise AuditError(_("--timezone: {error}").format(error=error)) from None


def _list(args: argparse.Namespace) -> int:
    times = local_times(args)
    report = verify(args.log, load_initial_key(args.key) if args.key else None)
    filters = listing.Filters(
        since=listing.parse_moment(args.since, zone=times.zone) if args.since else None,
        until=listing.parse_moment(args.until, end_of_day=True, zone=times.zone) if args.until else None,
        incident=args.incident,
        client=args.client,
        events=frozenset(args.event or ()),
    )
    shown = listing.write(listing.rows(scan(args.log), filters, report.stopped_at_line), args.format, times)
    if shown == 0:
        print(_("no entries match"), file=sys.stderr)
    if report.ok:
        checked = (
            _("exact bytes, chain and MACs") if args.key else _("exact bytes and chain; MACs need --key")
        )
        print(
            _("verified: {entries} entries ({checked})").format(entries=report.entries, checked=checked),
            file=sys.stderr,
        )
        return EXIT_OK
    print_verdict(report, sys.stderr)
    return EXIT_FAILED


def _check(args: argparse.Namespace) -> int:
    report = verify(args.log, load_initial_key(args.key) if args.key else None)
    incident_dir = args.incidents or args.log.parent
    findings = account(trails(entries(args.log)), incident_dir)
    for finding in findings:
        print(f"{finding.incident}: {finding.problem}")
    if not report.ok:
        print_verdict(report, sys.stderr)
    if not findings:
        print(
            _("every incident has a start, a close and its file in {directory} or a deletion entry").format(
                directory=incident_dir
            )
        )
    return EXIT_OK if report.ok and not findings else EXIT_FAILED


def _report(args: argparse.Namespace) -> int:
    from recorder.audit.report import Period, build_room
    from recorder.audit.report_html import render

    keys = args.key or []
    if keys and len(keys) != len(args.log):
        raise AuditError(
            _("give one --key per log ({logs} logs, {keys} keys)").format(logs=len(args.log), keys=len(keys))
        )
    times = local_times(args)
    period = Period(
        listing.parse_moment(args.since, zone=times.zone) if args.since else None,
        listing.parse_moment(args.until, end_of_day=True, zone=times.zone) if args.until else None,
    )
    now = datetime.now(UTC)
    rooms = [
        build_room(log, keys[n] if keys else None, period, args.retention_days, now)
        for n, log in enumerate(args.log or [])
    ]
    if args.vault:
        from recorder.vault.commands import report_rooms, scratch_directory

        with scratch_directory() as scratch:
            rooms += report_rooms(args, period, now, Path(scratch))
    if not rooms:
        raise AuditError(_("give one or more audit logs, or --vault s3://BUCKET/PREFIX"))
    html = render(rooms, period, now, times)
    fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(html)
    bad = [room.room for room in rooms if not room.verdict.ok or room.findings]
    incidents = sum(len(room.rows) for room in rooms)
    verdict = (
        _("problems in {rooms}").format(rooms=", ".join(bad))
        if bad
        else _("every log verifies and every incident is accounted for")
    )
    print(
        _("{output}: {incidents} incidents in {rooms} room(s); {verdict}").format(
            output=args.output, incidents=incidents, rooms=len(rooms), verdict=verdict
        )
    )
    return EXIT_FAILED if bad else EXIT_OK

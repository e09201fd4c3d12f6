"""The fleet's commands: `recorder vault list`, and the vault's side of `recorder audit verify|report
--vault` and `recorder export s3://…` (connection options shared by all of them)."""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from recorder.audit.reader import entries
from recorder.audit.report import Period, RoomReport, VaultEvidence, build_room
from recorder.audit.trail import trails
from recorder.errors import AuditError, VaultError
from recorder.messages import _
from recorder.vault.audit_copy import VaultCopy, fetch_copy, vault_findings
from recorder.vault.client import S3Client, as_vault_error, make_client, read_credentials
from recorder.vault.inventory import StoredRoom, inventory
from recorder.vault.layout import Location, split_object_url

EXIT_OK = 0


def connect(args: argparse.Namespace) -> S3Client:
    """Raises VaultError for an unreadable credentials file."""
    credentials = read_credentials(args.credentials) if args.credentials else None
    return make_client(args.endpoint, credentials)


def list_command(args: argparse.Namespace) -> int:
    vault = Location.parse(args.vault)
    client = connect(args)
    try:
        rooms = inventory(client, vault)
    except Exception as error:
        raise as_vault_error(error, _("cannot list {vault}").format(vault=vault)) from None
    if args.json:
        for room in rooms:
            print(json.dumps(_room_json(room), default=str))
        return EXIT_OK
    _print_table(rooms)
    return EXIT_OK


def _print_table(rooms: list[StoredRoom]) -> None:
    if not rooms:
        print(_("no rooms in this vault"))
    for room in rooms:
        audit = (
            _("audit up to seq {seq}").format(seq=room.audit_last_seq)
            if room.audit_last_seq is not None
            else _("no audit")
        )
        print(
            _("{room}: {incidents} incident(s), {size:.1f} MB, {audit}").format(
                room=room.room, incidents=len(room.incidents), size=room.bytes / 1e6, audit=audit
            )
        )
        for item in room.incidents:
            until = f"{item.retain_until:%Y-%m-%d}" if item.retain_until else _("NO RETENTION")
            flags = [
                f
                for f, on in (
                    (_("legal hold"), item.legal_hold),
                    (_("HIDDEN by a delete marker"), item.hidden),
                )
                if on
            ]
            if item.mode != "COMPLIANCE":
                flags.append(_("lock mode {mode}").format(mode=item.mode or "none"))
            if item.versions > 1:
                flags.append(f"{item.versions} versions")
            size = f"{item.size / 1e6:8.1f} MB"
            print(
                "  "
                + _("{incident}  {size}  retained until {until}  {flags}")
                .format(incident=item.incident, size=size, until=until, flags=", ".join(flags))
                .rstrip()
            )


def _room_json(room: StoredRoom) -> dict[str, Any]:
    return {
        "room": room.room,
        "bytes": room.bytes,
        "audit_last_seq": room.audit_last_seq,
        "audit_segments": room.segments,
        "incidents": [vars(item) for item in room.incidents],
    }


def vault_copy(args: argparse.Namespace, url: str) -> VaultCopy:
    """The vault's copy of one room's log (`s3://BUCKET/PREFIX/ROOM`). Raises VaultError."""
    try:
        return fetch_copy(connect(args), Location.parse(url))
    except VaultError:
        raise
    except Exception as error:
        raise as_vault_error(
            error, _("cannot read the audit checkpoints under {url}").format(url=url)
        ) from None


def report_rooms(args: argparse.Namespace, period: Period, now: datetime, scratch: Path) -> list[RoomReport]:
    """One report part per room of the vault, each from the vault's copy of its log. Keys come from
    `--key-dir` (ROOM.verify-key); a room without one is reported with MACs not checked."""
    vault = Location.parse(args.vault)
    client = connect(args)
    try:
        rooms = inventory(client, vault)
        reports = []
        for room in rooms:
            copy = fetch_copy(client, vault.child(room.room), {i.incident for i in room.incidents})
            log = copy.write_log(scratch / f"{room.room}.jsonl")
            known = trails(entries(log))
            evidence = VaultEvidence(
                _("{summary} (the vault's copy of the log)").format(summary=copy.summary()),
                copy.problems,
                vault_findings(known, copy.incidents),
            )
            key = _room_key(args.key_dir, room.room)
            reports.append(build_room(log, key, period, args.retention_days, now, evidence))
    except (VaultError, AuditError):
        raise
    except Exception as error:
        raise as_vault_error(error, _("cannot read {vault}").format(vault=vault)) from None
    return reports


def _room_key(directory: Path | None, room: str) -> Path | None:
    if directory is None:
        return None
    path = directory / f"{room}.verify-key"
    return path if path.is_file() else None


def open_object(args: argparse.Namespace, url: str) -> BinaryIO:
    """A readable stream of one object (`s3://BUCKET/KEY`). Raises VaultError."""
    bucket, key = split_object_url(url)
    try:
        body: BinaryIO = connect(args).get_object(Bucket=bucket, Key=key)["Body"]
    except Exception as error:
        raise as_vault_error(error, _("cannot read {url}").format(url=url)) from None
    return body


def scratch_directory() -> tempfile.TemporaryDirectory[str]:
    """A private directory (0700) for the vault's copies of logs, removed afterwards."""
    return tempfile.TemporaryDirectory(prefix="recorder-vault-")

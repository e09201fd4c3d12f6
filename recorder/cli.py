"""`recorder`: the daemon and the operator's, officer's and auditor's tools."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from recorder import __version__
from recorder.errors import ConfigError
from recorder.exit_codes import EPILOG, EXIT_FAILED, EXIT_OK, run_guarded

if TYPE_CHECKING:
    from recorder.audit.log import AuditLog
    from recorder.config import RoomConfig


def _checked_config(path: Path, beside_running: bool = False) -> tuple[RoomConfig, list[str]]:
    """The config and its preflight warnings; raises ConfigError with the message that both
    `check-config` and `run` print, every problem on its own line under the file's name.
    `beside_running`: the room's own running daemon may hold its ports (see `preflight`)."""
    from recorder.config import load_config
    from recorder.preflight import preflight

    try:
        config = load_config(path)
        report = preflight(config, path if beside_running else None)
    except ConfigError as error:
        problems = str(error).splitlines()
    else:
        if not report.problems:
            return config, report.warnings
        problems = report.problems
    lines = "\n".join(f"  {line}" for line in problems)
    raise ConfigError(f"{path}: the daemon cannot start with this configuration:\n{lines}")


def _cmd_run(args: argparse.Namespace) -> int:
    from recorder.daemon import run

    config, _warnings = _checked_config(args.config)  # the daemon logs the warnings itself
    return run(config)


def _cmd_check_config(args: argparse.Namespace) -> int:
    config, warnings = _checked_config(args.config, beside_running=True)
    for line in warnings:
        print(f"  warning: {line}", file=sys.stderr)
    print(
        f"{args.config}: OK (room {config.room}, pre-roll {config.recording.pre_roll_s:g} s, "
        f"{len(config.storage.recipients)} recipient(s))"
    )
    return EXIT_OK


def _cmd_keygen(args: argparse.Namespace) -> int:
    from recorder.keygen import create_curve_keypair, create_officer_identity

    if args.what == "server":
        public, secret = create_curve_keypair(args.dir, args.name)
        print(f"server public key: {public}  (give to every button of this room)")
        print(f"server secret key: {secret}  (set control.server_secret_key to this path)")
    else:
        recipient = create_officer_identity(args.out)
        print(f"officer identity written to {args.out}: keep it OFF the recording device")
        print(f"recipient (put in storage.recipients): {recipient}")
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from recorder.incident.export_incident import export_incident

    incident = Path(args.incident)
    if args.incident.startswith("s3://"):  # the officer's copy from the vault, streamed as it is read
        from recorder.vault.commands import open_object

        incident = Path(args.incident.rsplit("/", 1)[-1])
        with open_object(args, args.incident) as source:
            result = export_incident(
                incident, args.identity, args.output, progress=not args.quiet, source=source
            )
    else:
        result = export_incident(incident, args.identity, args.output, progress=not args.quiet)
    print(result.summary())
    if args.audit is None:
        return EXIT_OK
    from recorder.incident.verdict import classify

    verdict = classify(incident.name.removesuffix(".age"), result.decrypted, args.audit)
    print(verdict.line())
    return EXIT_OK if verdict.ok else EXIT_FAILED


def _cmd_audit(args: argparse.Namespace) -> int:
    from recorder.audit.commands import audit_command

    return audit_command(args)


def _cmd_incidents(args: argparse.Namespace) -> int:
    from recorder.config import load_config
    from recorder.incident.listing import list_incidents
    from recorder.incident.show import show_incident

    config = load_config(args.config)
    if args.action == "show":
        return show_incident(config, args.incident, as_json=args.json)
    return list_incidents(config, as_json=args.json)


def _operator_audit(path: Path) -> AuditLog:
    """The audit log as `recorder purge|hold` write it: each entry also witnessed in the journal."""
    from recorder.audit.log import AuditLog
    from recorder.audit.witness import journal_echo

    return AuditLog(path, echo=journal_echo(path))


def _cmd_purge(args: argparse.Namespace) -> int:
    from recorder.clock_watch import refuse_if_clock_stepped
    from recorder.config import load_config
    from recorder.retention import purge

    config = load_config(args.config)
    refuse_if_clock_stepped(config)  # a forward step of the wall clock would delete incidents early
    expired = purge(config, _operator_audit(config.storage.audit_path), dry_run=args.dry_run)
    deleted = [item for item in expired if not item.on_hold]
    held = [item for item in expired if item.on_hold]
    verb = "would delete" if args.dry_run else "deleted"
    for item in deleted:
        print(f"{verb} {item.path.name} ({item.age_days:.1f} days old)")
    for item in held:
        print(f"kept   {item.path.name} ({item.age_days:.1f} days old): on legal hold")
    days = config.storage.retention_days
    print(f"{len(deleted)} incident(s) {verb}, {len(held)} kept on hold; retention {days} days")
    return EXIT_OK


def _cmd_hold(args: argparse.Namespace) -> int:
    from recorder.config import load_config
    from recorder.retention import set_hold

    config = load_config(args.config)
    audit = _operator_audit(config.storage.audit_path)
    in_vault = set_hold(config, audit, args.incident, args.reason, release=args.release)
    print(f"{args.incident}: legal hold {'released' if args.release else 'placed'}")
    if in_vault is not None:
        print(f"vault: {in_vault}")
    return EXIT_OK


def _cmd_devices(args: argparse.Namespace) -> int:
    from recorder.devices import devices_command

    return devices_command(as_json=args.json)


def _cmd_install(args: argparse.Namespace) -> int:
    from recorder.install import Layout, install, next_steps, uninstall

    layout = Layout(args.root)
    if args.command == "uninstall":
        print("\n".join(uninstall(args.room, layout)))
        print("Incidents, the audit log, keys and the config are kept; delete them by hand once handed over.")
        return EXIT_OK
    print("\n".join(install(args.room, layout, args.recipient, args.port)))
    if args.room is not None:
        print(next_steps(args.room, layout))
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from recorder.demo import run_demo
    from recorder.logs import configure_logging

    configure_logging("warning")  # the demo prints its own progress; the daemon logs to daemon.log
    return run_demo(keep=args.keep, record_s=args.record_seconds)


def _key_name(text: str) -> str:
    from recorder.keygen import check_key_name

    try:
        return check_key_name(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _demo_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 600:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text!r}: a number of seconds from 0 to 600")
    return seconds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recorder",
        description="Room incident recorder: media stays in an encrypted in-memory ring and reaches disk "
        "only when staff raise an alarm.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the Python traceback of an unexpected error (for a bug report)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "run",
        help="run the daemon for one room",
        description="Run the daemon for one room "
        "(systemd: recorder@ROOM.service). Stops cleanly on SIGTERM; SIGHUP reloads enrolled clients.",
    )
    p.add_argument("--config", type=Path, required=True, help="the room's TOML file")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser(
        "check-config",
        help="validate a room config; exit 2 on any error",
        description="Print every error with its location; exit 0 if the daemon could start.",
    )
    p.add_argument("config", type=Path, help="the room's TOML file")
    p.set_defaults(func=_cmd_check_config)

    p = sub.add_parser("keygen", help="create the daemon's CURVE keys or an officer's age identity")
    ksub = p.add_subparsers(dest="what", required=True, metavar="WHAT")
    k = ksub.add_parser("server", help="CURVE key pair for the daemon (NAME.key, NAME.key_secret)")
    k.add_argument("--dir", type=Path, required=True, help="directory for the key files (created 0700)")
    k.add_argument(
        "--name", type=_key_name, default="server", help="base name of the key files (default: server)"
    )
    k = ksub.add_parser("officer", help="an age identity for the privacy officer; prints its age1… recipient")
    k.add_argument("--out", type=Path, required=True, help="identity file to create (never on the device)")
    p.set_defaults(func=_cmd_keygen)

    p = sub.add_parser(
        "export",
        help="decrypt an incident and write a playable video",
        description="Decrypt with the officer's identity; .mkv = stream copy, .mp4 = H.264 + AAC.",
    )
    p.add_argument("incident", help="the incident's .age file, or s3://BUCKET/KEY of its copy in the vault")
    p.add_argument("--identity", type=Path, required=True, help="the officer's age identity file")
    p.add_argument("-o", "--output", type=Path, required=True, help="out.mkv or out.mp4")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument(
        "--audit",
        type=Path,
        metavar="LOG",
        help="the room's audit log: tell complete, cut by a crash and damaged apart (exit 1 if damaged)",
    )
    _vault_options(p)
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("incidents", help="list the room's incidents, or show one with its audit trail")
    isub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    i = isub.add_parser(
        "list", help="one line per incident file: start, expiry, legal hold (from the audit log)"
    )
    i.add_argument("--config", type=Path, required=True, help="the room's TOML file")
    i.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    i = isub.add_parser(
        "show", help="one incident: its whole audit trail, file (size, SHA-256), retention due, legal hold"
    )
    i.add_argument("incident", help="the incident id (file name without .age)")
    i.add_argument("--config", type=Path, required=True, help="the room's TOML file")
    i.add_argument("--json", action="store_true", help="JSON instead of text")
    p.set_defaults(func=_cmd_incidents)

    p = sub.add_parser(
        "devices",
        help="list cameras and audio inputs for the config",
        description="V4L2 cameras (node, name, formats) and sound inputs (sounddevice), to fill in "
        "video.device and audio.device.",
    )
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    p.set_defaults(func=_cmd_devices)

    p = sub.add_parser(
        "purge",
        help="delete incidents older than retention_days (not those on hold)",
        description="The daemon does this at start and every hour. Age counts from each incident's start "
        "(from the audit log, else its id); holds come from the audit log. Each deletion is an audit entry "
        "with who acted and the file's SHA-256 and size, also sent to the system journal.",
    )
    p.add_argument("--config", type=Path, required=True, help="the room's TOML file")
    p.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    p.set_defaults(func=_cmd_purge)

    p = sub.add_parser(
        "hold",
        help="place or release a legal hold on an incident (it is then never purged)",
        description="The hold is an audit entry (who acted, the file's SHA-256 and size, also sent to the "
        "system journal) and lasts until a release is audited; the X.age.hold file is only a convenience. "
        "Exit 1 when the incident is unknown, already held, or (for --release) not held.",
    )
    p.add_argument("incident", help="the incident id (file name without .age)")
    p.add_argument("--config", type=Path, required=True, help="the room's TOML file")
    p.add_argument("--reason", required=True, help="why (case number, request); goes into the audit log")
    p.add_argument("--release", action="store_true", help="release the hold instead of placing it")
    p.set_defaults(func=_cmd_hold)

    _add_audit_parser(sub)
    _add_vault_parser(sub)

    _add_install(sub)

    p = sub.add_parser(
        "demo",
        help="run the whole path on built-in test sources, in a temporary directory",
        description="Start a daemon on test sources, press the panic button, clear, export an "
        "MP4, verify the audit log, and print a summary. Under a minute.",
    )
    p.add_argument(
        "--keep", type=Path, help="keep the demo's files in this directory instead of a temporary one"
    )
    p.add_argument(
        "--record-seconds",
        type=_demo_seconds,
        default=4.0,
        help="seconds to record after the trigger (0-600)",
    )
    p.set_defaults(func=_cmd_demo)
    return parser


def _add_install(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "install",
        help="set up a room on this machine: user, directories, keys, config, systemd units",
        description="Create the room-recorder system user (sysusers.d), the directories (tmpfiles.d), "
        "the room's CURVE keys, /etc/room-recorder/ROOM.toml from the example and this release's systemd "
        "units, then print the next steps. Safe to run again: what exists is kept (the units are replaced "
        "by this release's). Without ROOM, only the user, directories and units: after an upgrade or a "
        "roll-back. Run as root.",
    )
    p.add_argument(
        "room", nargs="?", help="the room id, e.g. interview-2 (lower-case letters, digits, '-', '_')"
    )
    p.add_argument(
        "--recipient", action="append", default=[], help="the officer's age1… recipient (repeat for several)"
    )
    p.add_argument(
        "--port", type=int, help="control port (state = port + 1); default: the first free pair from 5570"
    )
    p.add_argument(
        "--root", type=Path, default=Path("/"), help="install into this directory (an image) instead of /"
    )
    p.set_defaults(func=_cmd_install)
    p = sub.add_parser(
        "uninstall",
        help="stop and disable a room; keeps incidents, the audit log, keys and config",
        description="Stop and disable recorder@ROOM and remove its tmpfiles entry; the units go with "
        "the last room. Never deletes incidents, the audit log, keys or the config.",
    )
    p.add_argument("room", help="the room id")
    p.add_argument("--root", type=Path, default=Path("/"), help="the directory it was installed into")
    p.set_defaults(func=_cmd_install)


def _vault_options(parser: argparse.ArgumentParser) -> None:
    """--endpoint and --credentials, for the commands that read the vault."""
    parser.add_argument(
        "--endpoint", metavar="URL", help="S3 endpoint of the vault (default: $AWS_ENDPOINT_URL)"
    )
    parser.add_argument(
        "--credentials",
        type=Path,
        metavar="FILE",
        help="AWS-style credentials file for the vault (default: $AWS_ACCESS_KEY_ID and "
        "$AWS_SECRET_ACCESS_KEY, or ~/.aws/credentials)",
    )


def _cmd_vault(args: argparse.Namespace) -> int:
    from recorder.vault.commands import list_command

    return list_command(args)


def _add_vault_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "vault",
        help="what the evidence vault holds: rooms, incidents, sizes, retention, holds",
        description="Read an S3 vault that rooms upload to ([vault] in the room config). Exit 1 when it "
        "cannot be read.",
    )
    vsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    v = vsub.add_parser(
        "list",
        help="every room with its incidents (size, retained until, legal hold) and audit checkpoints",
        description="Every version of every incident object is shown; one hidden by a delete marker or "
        "stored without COMPLIANCE retention is flagged.",
    )
    v.add_argument("vault", metavar="s3://BUCKET[/PREFIX]", help="the vault, e.g. s3://evidence/rooms")
    v.add_argument("--json", action="store_true", help="one JSON object per room")
    _vault_options(v)
    p.set_defaults(func=_cmd_vault)


def _add_audit_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "audit",
        help="verify, list, check or report on the tamper-evident audit log",
        description="Exit 0 when the log verifies, 1 when it does not or an input is unreadable.",
    )
    asub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = asub.add_parser("verify", help="check exact bytes, chain and forward-secure MACs; exit 1 if tampered")
    a.add_argument("log", type=Path, help="the audit log (audit.jsonl)")
    a.add_argument("--key", type=Path, required=True, help="the auditor's verification key file")
    a.add_argument(
        "--witness",
        action="append",
        metavar="SEQ:HASH",
        help="an entry known from the journal or a checkpoint (detects tail truncation); repeatable",
    )
    a.add_argument("--state", type=Path, metavar="FILE", help="a copy of the device's audit.jsonl.key")
    a.add_argument(
        "--vault",
        metavar="s3://BUCKET/PREFIX/ROOM",
        help="the room's audit checkpoints in the vault: the log must still hold every entry they hold",
    )
    _vault_options(a)
    a = asub.add_parser("list", help="the entries, filtered, verified as they are listed (exit 1 if broken)")
    a.add_argument("log", type=Path, help="the audit log (audit.jsonl)")
    a.add_argument("--key", type=Path, help="verification key: also check MACs")
    a.add_argument("--since", metavar="DATE", help="entries at or after (YYYY-MM-DD or ISO 8601, UTC)")
    a.add_argument("--until", metavar="DATE", help="entries before (a bare date includes that day)")
    a.add_argument("--incident", help="only entries of this incident")
    a.add_argument("--client", help="only entries by this enrolled client")
    a.add_argument("--event", action="append", help="only this event (repeatable)")
    a.add_argument("--format", choices=("table", "json", "csv"), default="table", help="default: table")
    a = asub.add_parser(
        "check", help="every incident has a start, a close, and its file or a deletion entry; exit 1 if not"
    )
    a.add_argument("log", type=Path, help="the audit log (audit.jsonl)")
    a.add_argument("--key", type=Path, help="verification key: also check MACs")
    a.add_argument("--incidents", type=Path, metavar="DIR", help="incident directory (default: the log's)")
    a = asub.add_parser("report", help="a self-contained HTML report for a period, for the auditor")
    a.add_argument("log", type=Path, nargs="*", help="one audit log per room")
    a.add_argument("--key", type=Path, action="append", help="verification key, one per log, in order")
    a.add_argument("-o", "--output", type=Path, required=True, help="the HTML file to write")
    a.add_argument("--since", metavar="DATE", help="incidents started at or after (YYYY-MM-DD)")
    a.add_argument("--until", metavar="DATE", help="incidents started before (a bare date includes that day)")
    a.add_argument("--retention-days", type=int, help="default: from the log's deletions, else 14")
    a.add_argument(
        "--vault",
        metavar="s3://BUCKET[/PREFIX]",
        help="also every room of this vault, each from the vault's copy of its log, with its incidents",
    )
    a.add_argument(
        "--key-dir", type=Path, metavar="DIR", help="with --vault: verification keys named ROOM.verify-key"
    )
    _vault_options(a)
    p.set_defaults(func=_cmd_audit)


def main(argv: list[str] | None = None) -> int:
    """The one place that maps errors to exit codes (see `recorder --help`)."""
    from recorder.logs import configure_logging

    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    return run_guarded(
        "recorder", lambda: int(args.func(args)), debug=args.debug, on_crash=_crash_logger(args)
    )


def _crash_logger(args: argparse.Namespace) -> Callable[[], None] | None:
    """The daemon's log (the journal) records where an unexpected error happened, on one line."""
    if args.func is not _cmd_run:
        return None

    def log_crash() -> None:
        import traceback

        import structlog

        frames = [
            f"{frame.filename}:{frame.lineno} {frame.name}"
            for frame in traceback.extract_tb(sys.exc_info()[2])
        ]
        structlog.get_logger().critical("daemon_crashed", error=repr(sys.exc_info()[1]), traceback=frames)

    return log_crash


if __name__ == "__main__":
    sys.exit(main())

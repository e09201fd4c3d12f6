"""The `recorder` command line: every subcommand, option and help text (in the process's language)."""

from __future__ import annotations

import argparse
from pathlib import Path

from recorder import __version__
from recorder.exit_codes import EPILOG
from recorder.i18n import DEFAULT_TIMEZONE, languages
from recorder.messages import DOMAIN, _


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
        raise argparse.ArgumentTypeError(_("{text!r}: a number of seconds from 0 to 600").format(text=text))
    return seconds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recorder",
        description=_(
            "Room incident recorder: media stays in an encrypted in-memory ring and reaches disk "
            "only when staff raise an alarm."
        ),
        epilog=_(EPILOG),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help=_("show the version and exit")
    )
    parser.add_argument(
        "--language",
        choices=languages(DOMAIN),
        help=_("language of the messages (default: from LANGUAGE, LC_ALL, LC_MESSAGES or LANG, else nl)"),
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help=_("least important log events shown (default: info)"),
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help=_("show the Python traceback of an unexpected error (for a bug report)"),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "run",
        help=_("run the daemon for one room"),
        description=_(
            "Run the daemon for one room "
            "(systemd: recorder@ROOM.service). Stops cleanly on SIGTERM; SIGHUP reloads enrolled clients."
        ),
    )
    p.add_argument("--config", type=Path, required=True, help=_("the room's TOML file"))

    p = sub.add_parser(
        "check-config",
        help=_("validate a room config; exit 2 on any error"),
        description=_("Print every error with its location; exit 0 if the daemon could start."),
    )
    p.add_argument("config", type=Path, help=_("the room's TOML file"))

    p = sub.add_parser("keygen", help=_("create the daemon's CURVE keys or an officer's age identity"))
    ksub = p.add_subparsers(dest="what", required=True, metavar="WHAT")
    k = ksub.add_parser("server", help=_("CURVE key pair for the daemon (NAME.key, NAME.key_secret)"))
    k.add_argument("--dir", type=Path, required=True, help=_("directory for the key files (created 0700)"))
    k.add_argument(
        "--name", type=_key_name, default="server", help=_("base name of the key files (default: server)")
    )
    k = ksub.add_parser(
        "officer", help=_("an age identity for the privacy officer; prints its age1… recipient")
    )
    k.add_argument("--out", type=Path, required=True, help=_("identity file to create (never on the device)"))

    p = sub.add_parser(
        "export",
        help=_("decrypt an incident and write a playable video"),
        description=_("Decrypt with the officer's identity; .mkv = stream copy, .mp4 = H.264 + AAC."),
    )
    p.add_argument(
        "incident", help=_("the incident's .age file, or s3://BUCKET/KEY of its copy in the vault")
    )
    p.add_argument("--identity", type=Path, required=True, help=_("the officer's age identity file"))
    p.add_argument("-o", "--output", type=Path, required=True, help=_("out.mkv or out.mp4"))
    p.add_argument("--quiet", action="store_true", help=_("no progress output"))
    p.add_argument(
        "--audit",
        type=Path,
        metavar="LOG",
        help=_("the room's audit log: tell complete, cut by a crash and damaged apart (exit 1 if damaged)"),
    )
    _vault_options(p)

    p = sub.add_parser("incidents", help=_("list the room's incidents, or show one with its audit trail"))
    isub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    i = isub.add_parser(
        "list", help=_("one line per incident file: start, expiry, legal hold (from the audit log)")
    )
    i.add_argument("--config", type=Path, required=True, help=_("the room's TOML file"))
    i.add_argument("--json", action="store_true", help=_("JSON lines instead of a table"))
    i = isub.add_parser(
        "show", help=_("one incident: its whole audit trail, file (size, SHA-256), retention due, legal hold")
    )
    i.add_argument("incident", help=_("the incident id (file name without .age)"))
    i.add_argument("--config", type=Path, required=True, help=_("the room's TOML file"))
    i.add_argument("--json", action="store_true", help=_("JSON instead of text"))

    p = sub.add_parser(
        "devices",
        help=_("list cameras and audio inputs for the config"),
        description=_(
            "V4L2 cameras (node, name, formats) and sound inputs (sounddevice), to fill in "
            "video.device and audio.device."
        ),
    )
    p.add_argument("--json", action="store_true", help=_("JSON instead of a table"))

    p = sub.add_parser(
        "purge",
        help=_("delete incidents older than retention_days (not those on hold)"),
        description=_(
            "The daemon does this at start and every hour. Age counts from each incident's start "
            "(from the audit log, else its id); holds come from the audit log. Each deletion is an audit "
            "entry with who acted and the file's SHA-256 and size, also sent to the system journal."
        ),
    )
    p.add_argument("--config", type=Path, required=True, help=_("the room's TOML file"))
    p.add_argument("--dry-run", action="store_true", help=_("only list what would be deleted"))

    p = sub.add_parser(
        "hold",
        help=_("place or release a legal hold on an incident (it is then never purged)"),
        description=_(
            "The hold is an audit entry (who acted, the file's SHA-256 and size, also sent to the "
            "system journal) and lasts until a release is audited; the X.age.hold marker also keeps an "
            "incident whose hold is no longer in the log (a rotated or lost log). Exit 1 when the "
            "incident is unknown, already held, or (for --release) not held."
        ),
    )
    p.add_argument("incident", help=_("the incident id (file name without .age)"))
    p.add_argument("--config", type=Path, required=True, help=_("the room's TOML file"))
    p.add_argument("--reason", required=True, help=_("why (case number, request); goes into the audit log"))
    p.add_argument("--release", action="store_true", help=_("release the hold instead of placing it"))

    _add_audit_parser(sub)
    _add_vault_parser(sub)

    _add_install(sub)

    p = sub.add_parser(
        "demo",
        help=_("run the whole path on built-in test sources, in a temporary directory"),
        description=_(
            "Start a daemon on test sources, press the panic button, clear, export an "
            "MP4, verify the audit log, and print a summary. Under a minute."
        ),
    )
    p.add_argument(
        "--keep", type=Path, help=_("keep the demo's files in this directory instead of a temporary one")
    )
    p.add_argument(
        "--record-seconds",
        type=_demo_seconds,
        default=4.0,
        help=_("seconds to record after the trigger (0-600)"),
    )
    return parser


def _add_install(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "install",
        help=_("set up a room on this machine: user, directories, keys, config, systemd units"),
        description=_(
            "Create the room-recorder system user (sysusers.d), the directories (tmpfiles.d), "
            "the room's CURVE keys, /etc/room-recorder/ROOM.toml from the example and this release's "
            "systemd units, then print the next steps. Safe to run again: what exists is kept (the units "
            "are replaced by this release's). Without ROOM, only the user, directories and units: after "
            "an upgrade or a roll-back. Run as root."
        ),
    )
    p.add_argument(
        "room", nargs="?", help=_("the room id, e.g. interview-2 (lower-case letters, digits, '-', '_')")
    )
    p.add_argument(
        "--recipient",
        action="append",
        default=[],
        help=_("the officer's age1… recipient (repeat for several)"),
    )
    p.add_argument(
        "--port", type=int, help=_("control port (state = port + 1); default: the first free pair from 5570")
    )
    p.add_argument(
        "--root", type=Path, default=Path("/"), help=_("install into this directory (an image) instead of /")
    )
    p = sub.add_parser(
        "uninstall",
        help=_("stop and disable a room; keeps incidents, the audit log, keys and config"),
        description=_(
            "Stop and disable recorder@ROOM and remove its tmpfiles entry; the units go with "
            "the last room. Never deletes incidents, the audit log, keys or the config."
        ),
    )
    p.add_argument("room", help=_("the room id"))
    p.add_argument("--root", type=Path, default=Path("/"), help=_("the directory it was installed into"))


def _vault_options(parser: argparse.ArgumentParser) -> None:
    """--endpoint and --credentials, for the commands that read the vault."""
    parser.add_argument(
        "--endpoint", metavar="URL", help=_("S3 endpoint of the vault (default: $AWS_ENDPOINT_URL)")
    )
    parser.add_argument(
        "--credentials",
        type=Path,
        metavar="FILE",
        help=_(
            "AWS-style credentials file for the vault (default: $AWS_ACCESS_KEY_ID and "
            "$AWS_SECRET_ACCESS_KEY, or ~/.aws/credentials)"
        ),
    )


def _add_vault_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "vault",
        help=_("what the evidence vault holds: rooms, incidents, sizes, retention, holds"),
        description=_(
            "Read an S3 vault that rooms upload to ([vault] in the room config). Exit 1 when it "
            "cannot be read."
        ),
    )
    vsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    v = vsub.add_parser(
        "list",
        help=_("every room with its incidents (size, retained until, legal hold) and audit checkpoints"),
        description=_(
            "Every version of every incident object is shown; one hidden by a delete marker or "
            "stored without COMPLIANCE retention is flagged."
        ),
    )
    v.add_argument("vault", metavar="s3://BUCKET[/PREFIX]", help=_("the vault, e.g. s3://evidence/rooms"))
    v.add_argument("--json", action="store_true", help=_("one JSON object per room"))
    _vault_options(v)


def _timezone_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timezone",
        metavar="ZONE",
        default=DEFAULT_TIMEZONE,
        help=_(
            "IANA time zone of the dates given and the times shown (default: %(default)s; "
            "JSON and CSV stay UTC)"
        ),
    )


def _add_audit_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "audit",
        help=_("verify, list, check or report on the tamper-evident audit log"),
        description=_("Exit 0 when the log verifies, 1 when it does not or an input is unreadable."),
    )
    asub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = asub.add_parser(
        "verify", help=_("check exact bytes, chain and forward-secure MACs; exit 1 if tampered")
    )
    a.add_argument("log", type=Path, help=_("the audit log (audit.jsonl)"))
    a.add_argument("--key", type=Path, required=True, help=_("the auditor's verification key file"))
    a.add_argument(
        "--witness",
        action="append",
        metavar="SEQ:HASH",
        help=_("an entry known from the journal or a checkpoint (detects tail truncation); repeatable"),
    )
    a.add_argument("--state", type=Path, metavar="FILE", help=_("a copy of the device's audit.jsonl.key"))
    a.add_argument(
        "--vault",
        metavar="s3://BUCKET/PREFIX/ROOM",
        help=_("the room's audit checkpoints in the vault: the log must still hold every entry they hold"),
    )
    _vault_options(a)
    a = asub.add_parser(
        "list", help=_("the entries, filtered, verified as they are listed (exit 1 if broken)")
    )
    a.add_argument("log", type=Path, help=_("the audit log (audit.jsonl)"))
    a.add_argument("--key", type=Path, help=_("verification key: also check MACs"))
    a.add_argument(
        "--since", metavar="DATE", help=_("entries at or after (YYYY-MM-DD or ISO 8601, in --timezone)")
    )
    a.add_argument("--until", metavar="DATE", help=_("entries before (a bare date includes that day)"))
    a.add_argument("--incident", help=_("only entries of this incident"))
    a.add_argument("--client", help=_("only entries by this enrolled client"))
    a.add_argument("--event", action="append", help=_("only this event (repeatable)"))
    a.add_argument("--format", choices=("table", "json", "csv"), default="table", help=_("default: table"))
    _timezone_option(a)
    a = asub.add_parser(
        "check",
        help=_("every incident has a start, a close, and its file or a deletion entry; exit 1 if not"),
    )
    a.add_argument("log", type=Path, help=_("the audit log (audit.jsonl)"))
    a.add_argument("--key", type=Path, help=_("verification key: also check MACs"))
    a.add_argument("--incidents", type=Path, metavar="DIR", help=_("incident directory (default: the log's)"))
    a = asub.add_parser("report", help=_("a self-contained HTML report for a period, for the auditor"))
    a.add_argument("log", type=Path, nargs="*", help=_("one audit log per room"))
    a.add_argument("--key", type=Path, action="append", help=_("verification key, one per log, in order"))
    a.add_argument("-o", "--output", type=Path, required=True, help=_("the HTML file to write"))
    a.add_argument("--since", metavar="DATE", help=_("incidents started at or after (YYYY-MM-DD)"))
    a.add_argument(
        "--until", metavar="DATE", help=_("incidents started before (a bare date includes that day)")
    )
    a.add_argument("--retention-days", type=int, help=_("default: from the log's deletions, else 14"))
    _timezone_option(a)
    a.add_argument(
        "--vault",
        metavar="s3://BUCKET[/PREFIX]",
        help=_("also every room of this vault, each from the vault's copy of its log, with its incidents"),
    )
    a.add_argument(
        "--key-dir", type=Path, metavar="DIR", help=_("with --vault: verification keys named ROOM.verify-key")
    )
    _vault_options(a)

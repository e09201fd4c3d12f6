"""`recorder`: the daemon and the operator's, officer's and auditor's tools."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from recorder.argparse_messages import translate_argparse
from recorder.cli_parser import build_parser
from recorder.errors import ConfigError
from recorder.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE, run_guarded
from recorder.i18n import SOURCE_LANGUAGE, language_flag, languages, pick_language, set_language
from recorder.messages import DOMAIN, _

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
    raise ConfigError(
        _("{path}: the daemon cannot start with this configuration:\n{lines}").format(path=path, lines=lines)
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from recorder.daemon import run

    config, _warnings = _checked_config(args.config)  # the daemon logs the warnings itself
    return run(config)


def _cmd_check_config(args: argparse.Namespace) -> int:
    config, warnings = _checked_config(args.config, beside_running=True)
    for line in warnings:
        print("  " + _("warning: {problem}").format(problem=line), file=sys.stderr)
    print(
        _("{config}: OK (room {room}, pre-roll {seconds:g} s, {count} recipient(s))").format(
            config=args.config,
            room=config.room,
            seconds=config.recording.pre_roll_s,
            count=len(config.storage.recipients),
        )
    )
    return EXIT_OK


def _cmd_keygen(args: argparse.Namespace) -> int:
    from recorder.keygen import create_curve_keypair, create_officer_identity

    if args.what == "server":
        public, secret = create_curve_keypair(args.dir, args.name)
        print(_("server public key: {public}  (give to every button of this room)").format(public=public))
        print(
            _("server secret key: {secret}  (set control.server_secret_key to this path)").format(
                secret=secret
            )
        )
    else:
        recipient = create_officer_identity(args.out)
        print(_("officer identity written to {out}: keep it OFF the recording device").format(out=args.out))
        print(_("recipient (put in storage.recipients): {recipient}").format(recipient=recipient))
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
    line = (
        _("would delete {name} ({age:.1f} days old)")
        if args.dry_run
        else _("deleted {name} ({age:.1f} days old)")
    )
    for item in deleted:
        print(line.format(name=item.path.name, age=item.age_days))
    for item in held:
        print(
            _("kept   {name} ({age:.1f} days old): on legal hold").format(
                name=item.path.name, age=item.age_days
            )
        )
    summary = (
        _("{deleted} incident(s) would be deleted, {held} kept on hold; retention {days} days")
        if args.dry_run
        else _("{deleted} incident(s) deleted, {held} kept on hold; retention {days} days")
    )
    print(summary.format(deleted=len(deleted), held=len(held), days=config.storage.retention_days))
    return EXIT_OK


def _cmd_hold(args: argparse.Namespace) -> int:
    from recorder.config import load_config
    from recorder.retention import set_hold

    config = load_config(args.config)
    audit = _operator_audit(config.storage.audit_path)
    in_vault = set_hold(config, audit, args.incident, args.reason, release=args.release)
    done = _("{incident}: legal hold released") if args.release else _("{incident}: legal hold placed")
    print(done.format(incident=args.incident))
    if in_vault is not None:
        print(_("vault: {state}").format(state=in_vault))
    return EXIT_OK


def _cmd_devices(args: argparse.Namespace) -> int:
    from recorder.devices import devices_command

    return devices_command(as_json=args.json)


def _cmd_install(args: argparse.Namespace) -> int:
    from recorder.install import Layout, install, next_steps, uninstall

    layout = Layout(args.root)
    if args.command == "uninstall":
        print("\n".join(uninstall(args.room, layout)))
        print(
            _("Incidents, the audit log, keys and the config are kept; delete them by hand once handed over.")
        )
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


def _cmd_vault(args: argparse.Namespace) -> int:
    from recorder.vault.commands import list_command

    return list_command(args)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": _cmd_run,
    "check-config": _cmd_check_config,
    "keygen": _cmd_keygen,
    "export": _cmd_export,
    "incidents": _cmd_incidents,
    "devices": _cmd_devices,
    "purge": _cmd_purge,
    "hold": _cmd_hold,
    "audit": _cmd_audit,
    "vault": _cmd_vault,
    "install": _cmd_install,
    "uninstall": _cmd_install,
    "demo": _cmd_demo,
}


def main(argv: list[str] | None = None) -> int:
    """The one place that maps errors to exit codes (see `recorder --help`)."""
    from recorder.logs import configure_logging

    argv = sys.argv[1:] if argv is None else argv
    if not _choose_language(argv):
        return EXIT_USAGE
    args = build_parser().parse_args(argv)
    if args.command == "run":
        set_language(SOURCE_LANGUAGE)  # the daemon writes to the journal, whose logs stay in English
    configure_logging(args.log_level)
    command = COMMANDS[args.command]
    return run_guarded("recorder", lambda: command(args), debug=args.debug, on_crash=_crash_logger(args))


def _choose_language(argv: list[str]) -> bool:
    """--language, else the environment's language if there is a catalog for it, else Dutch; chosen
    before the parser is built, so that --help and argparse's errors speak it too. False, after one
    line on stderr, for a --language without a catalog."""
    wanted = language_flag(argv)
    have = languages(DOMAIN)
    set_language(pick_language(DOMAIN, wanted if wanted in have else None))
    translate_argparse()
    if wanted is None or wanted in have:
        return True
    message = _("unknown language {language!r} for --language (have: {have})")
    print(f"recorder: {message.format(language=wanted, have=', '.join(have))}", file=sys.stderr)
    return False


def _crash_logger(args: argparse.Namespace) -> Callable[[], None] | None:
    """The daemon's log (the journal) records where an unexpected error happened, on one line."""
    if args.command != "run":
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

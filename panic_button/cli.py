"""`panic-button`: press, clear, query or annotate a room; run the desk, indicator, HID or GPIO front end."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from panic_button.client import ButtonError, NoContact, Refused, RoomClient
from panic_button.config import RoomFile, load_desk_file, read_toml, validate
from panic_button.i18n import DOMAIN, _
from recorder.i18n import language_flag, pick_language, set_language

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED, EXIT_NO_CONTACT = 0, 1, 2, 3, 4
_FLAGS = {  # command-line flag -> settings field; a flag given overrides the --config file
    "name": "name", "endpoint": "endpoint", "state_endpoint": "state_endpoint", "key": "key",
    "server_key": "server_key", "timeout": "timeout_s", "retries": "retries", "heartbeat": "heartbeat_s",
}  # fmt: skip


def _not_installed(package: str | None, extra: str) -> ButtonError:
    hint = _("{package} is not installed: pip install 'room-recorder[{extra}]'")
    return ButtonError(hint.format(package=package, extra=extra))


def _room(args: argparse.Namespace) -> RoomFile:
    """The room's settings from --config and the flags; its language becomes the process's."""
    data: dict[str, Any] = read_toml(args.config) if args.config else {}
    for flag, field in _FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None:
            data[field] = str(value) if isinstance(value, Path) else value
    if args.language:
        languages = args.language.split(",")
        data["language"] = languages[0]
        if len(languages) > 1:
            data["indicator"] = {**data.get("indicator", {}), "languages": languages}
    if not all(data.get(field) for field in ("endpoint", "key", "server_key")):
        raise ButtonError(_("need --endpoint, --key and --server-key (or a --config file that sets them)"))
    room = validate(RoomFile, data, str(args.config or _("command line")))
    set_language(pick_language(DOMAIN, room.language))
    return room


def _state(reply: dict[str, Any]) -> str:
    names = {"idle": _("IDLE"), "recording": _("RECORDING"), "post_roll": _("POST-ROLL")}
    room, incident = reply.get("room"), reply.get("incident")
    state = names.get(reply.get("state", ""), reply.get("state"))
    if incident:
        return _("{room}: {state}, incident {incident}").format(room=room, state=state, incident=incident)
    return _("{room}: {state}").format(room=room, state=state)


def _request(args: argparse.Namespace) -> int:
    room = _room(args)
    client = RoomClient(room.endpoint, room.keys(), timeout_s=room.timeout_s, retries=room.retries)
    kind = {"press": "trigger", "clear": "clear", "status": "status", "annotate": "annotate"}[args.command]
    try:
        reply = client.request(kind, reason=args.reason, incident=getattr(args, "incident", None))
    except NoContact as error:
        message = _("NO CONTACT: {error}. It was NOT delivered; use another way to get help.")
        print(message.format(error=error), file=sys.stderr)
        return EXIT_NO_CONTACT
    except Refused as error:
        print(_("REFUSED: {error}").format(error=error), file=sys.stderr)
        return EXIT_REFUSED
    finally:
        client.close()
    if args.json:
        print(json.dumps(reply))
    elif kind == "annotate":
        saved = _("{room}: justification saved for incident {incident}")
        print(saved.format(room=reply.get("room"), incident=args.incident))
    else:
        print(_state(reply))
    return EXIT_OK


def _annotate(args: argparse.Namespace) -> int:
    if not args.reason.strip() or len(args.reason) > 500:
        raise ButtonError(_("--reason must say why, in 1 to 500 characters"))
    return _request(args)


def _desk(args: argparse.Namespace) -> int:
    desk = load_desk_file(args.rooms, language=args.language)
    language = pick_language(DOMAIN, desk.language)
    set_language(language)

    def show() -> int:
        from panic_button.desk_view import run_desk

        return run_desk(desk, language)

    return _on_screen(show)


def _indicator(args: argparse.Namespace) -> int:
    from panic_button.indicator_model import IndicatorOptions

    command = tuple(shlex.split(args.cue_command)) if args.cue_command else None
    if args.cue_interval <= 0:
        raise ButtonError(_("--cue-interval must be positive"))
    room, options = _room(args), IndicatorOptions(args.cue_interval, command, args.windowed)
    notice, languages = room.require_notice(), room.sign_languages(pick_language(DOMAIN, room.language))

    def show() -> int:
        from panic_button.indicator_view import SignSettings, run_indicator

        return run_indicator(room, SignSettings(notice, languages, room.indicator.rotate_s), options)

    return _on_screen(show)


def _on_screen(show: Callable[[], int]) -> int:
    """Run a Tk front end; a Tk failure (e.g. no display) or a missing library is reported, not a
    traceback."""
    try:
        import tkinter
    except ImportError:
        raise _not_installed("tkinter (Debian: python3-tk)", "ui") from None
    try:
        return show()
    except ImportError as error:
        raise _not_installed(error.name, "ui") from None
    except tkinter.TclError as error:
        print(_("panic-button: cannot show the window: {error}").format(error=error), file=sys.stderr)
        return EXIT_FAILED


def _hid(args: argparse.Namespace) -> int:
    try:
        from panic_button import hid
    except ImportError:
        raise _not_installed("evdev", "hid") from None
    if args.list:
        print("\n".join(hid.list_devices()) or _("no input devices (are you in the 'input' group?)"))
        return EXIT_OK
    if not (args.device and args.key_code):
        raise ButtonError(_("need --device and --key-code (find them with `panic-button hid --list`)"))
    room = _room(args)
    return hid.run_hid(room, room, args.device, hid.key_code(args.key_code))


def _gpio(args: argparse.Namespace) -> int:
    try:
        from panic_button.gpio import run_gpio
    except ImportError:
        raise _not_installed("gpiozero", "gpio") from None
    room = _room(args)
    return run_gpio(room, room, args.button_pin, args.led_pin)


def _keygen(args: argparse.Namespace) -> int:
    from recorder.keygen import create_curve_keypair

    public, secret = create_curve_keypair(args.dir, args.name)
    print(
        _(
            "public key: {path}\n  -> copy it into the room's authorized_clients/, then reload the daemon"
        ).format(path=public)
    )
    print(_("secret key: {path}\n  -> stays on this button (pass it as --key)").format(path=secret))
    return EXIT_OK


def _room_options(p: argparse.ArgumentParser, state: bool, languages: bool = False) -> None:
    p.add_argument("--config", type=Path, help=_("TOML with endpoint, state_endpoint, key, server_key, ..."))
    p.add_argument("--endpoint", help=_("the daemon's control endpoint, e.g. tcp://10.0.0.5:5570"))
    if state:
        p.add_argument("--state-endpoint", help=_("the daemon's state endpoint, e.g. tcp://10.0.0.5:5571"))
        p.add_argument("--heartbeat", type=float, help=_("the daemon's heartbeat_s (default 1)"))
        p.add_argument("--name", help=_("the room's label (default: its id)"))
    p.add_argument("--key", type=Path, help=_("this client's secret key file (NAME.key_secret)"))
    p.add_argument("--server-key", type=Path, help=_("the daemon's public key file (server.key)"))
    p.add_argument("--timeout", type=float, help=_("seconds to wait per try (default 1)"))
    p.add_argument("--retries", type=int, help=_("tries before giving up (default 3)"))
    _language_option(p, several=languages)


def _language_option(p: argparse.ArgumentParser, several: bool = False) -> None:
    help_text = _("language of the texts, e.g. nl or en (default: the settings file's, else nl)")
    if several:
        help_text = _("languages of the sign, shown in turn, e.g. nl,ar,tr (default: the settings file's)")
    p.add_argument("--language", metavar="LANG,…" if several else "LANG", help=help_text)


def _add_requests(sub: Any) -> None:
    codes = _("Exit codes: 0 done, 2 usage, 3 refused by the daemon, 4 no contact (NOT delivered).")
    for name, text in (
        ("press", _("raise the alarm: start (or extend) the room's recording")),
        ("clear", _("clear the alarm: recording stops after the post-roll")),
        ("status", _("print the room's state")),
        ("annotate", _("add the justification for an incident to the room's audit log")),
    ):
        p = sub.add_parser(name, help=text, description=f"{text[0].upper()}{text[1:]}. {codes}")
        _room_options(p, state=False)
        p.add_argument("--json", action="store_true", help=_("print the daemon's reply as JSON"))
        p.set_defaults(func=_request, reason=None)
        if name in ("press", "clear"):
            p.add_argument("--reason", help=_("why (goes into the audit log)"))
    p.add_argument("incident", help=_("the incident's id, e.g. interview-2-20261129T101500Z-3fa2c1"))
    p.add_argument("--reason", required=True, help=_("why the alarm was raised (1 to 500 characters)"))
    p.set_defaults(func=_annotate)


def _add_front_ends(sub: Any) -> None:
    p = sub.add_parser("desk", help=_("a window with every room's state, alarm and clear buttons (Tk)"))
    p.add_argument(
        "--rooms", type=Path, required=True, help=_("TOML: key, heartbeat_s and one [[room]] per room")
    )
    _language_option(p)
    p.set_defaults(func=_desk, long_running=True)
    p = sub.add_parser(
        "indicator", help=_("a full-screen RECORDING sign for the citizen, with the notice (Tk)")
    )
    _room_options(p, state=True, languages=True)
    p.add_argument(
        "--cue-interval", type=float, default=120.0, help=_("seconds between cues while recording")
    )
    p.add_argument("--cue-command", help=_("command that plays the cue (default: the X bell)"))
    p.add_argument("--windowed", action="store_true", help=_("a normal window instead of the whole screen"))
    p.set_defaults(func=_indicator, long_running=True)
    p = sub.add_parser("hid", help=_("a USB panic button that types a key (evdev; grabs the device)"))
    _room_options(p, state=False)
    p.add_argument("--device", help=_("the input device, e.g. /dev/input/by-id/usb-...-event-kbd"))
    p.add_argument("--key-code", help=_("the key that triggers, e.g. KEY_F13 or 183"))
    p.add_argument("--list", action="store_true", help=_("list input devices and exit"))
    p.set_defaults(func=_hid, long_running=True)
    p = sub.add_parser("gpio", help=_("a Raspberry Pi button and LED (gpiozero)"))
    _room_options(p, state=True)
    p.add_argument("--button-pin", default="GPIO17", help=_("the button's pin (default GPIO17)"))
    p.add_argument("--led-pin", default="GPIO27", help=_("the LED's pin (default GPIO27)"))
    p.set_defaults(func=_gpio, long_running=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="panic-button", description=_("Staff alarm client for room-recorder.")
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_requests(sub)
    _add_front_ends(sub)
    p = sub.add_parser("keygen", help=_("create a key pair for a new button (NAME.key, NAME.key_secret)"))
    p.add_argument("name", help=_("the button's name, as it will appear in the audit log"))
    p.add_argument("--dir", type=Path, default=Path("."), help=_("where to write the key files"))
    p.set_defaults(func=_keygen)
    return parser


def main(argv: list[str] | None = None) -> int:
    from recorder.exit_codes import run_guarded  # any error the clauses below miss: one line, a code

    argv = sys.argv[1:] if argv is None else argv
    set_language(pick_language(DOMAIN, language_flag(argv)))
    args = build_parser().parse_args(argv)
    if getattr(args, "long_running", False):
        from recorder.logs import configure_logging

        configure_logging()
    return run_guarded("panic-button", lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    try:
        code: int = args.func(args)
    except (ButtonError, FileExistsError, ValueError) as error:
        print(f"panic-button: {error}", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeError as error:  # tkinter.TclError (e.g. no display) is a RuntimeError
        print(f"panic-button: {error}", file=sys.stderr)
        return EXIT_FAILED
    return code


if __name__ == "__main__":
    sys.exit(main())

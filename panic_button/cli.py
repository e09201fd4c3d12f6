"""`panic-button`: trigger, clear or query a room; run the desk, indicator, HID or GPIO front end."""

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

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED, EXIT_NO_CONTACT = 0, 1, 2, 3, 4
_FLAGS = {  # command-line flag -> settings field; a flag given overrides the --config file
    "name": "name", "endpoint": "endpoint", "state_endpoint": "state_endpoint", "key": "key",
    "server_key": "server_key", "timeout": "timeout_s", "retries": "retries", "heartbeat": "heartbeat_s",
}  # fmt: skip
_EXTRA_HINT = "is not installed: pip install 'room-recorder[{extra}]'"


def _room(args: argparse.Namespace) -> RoomFile:
    data: dict[str, Any] = read_toml(args.config) if args.config else {}
    for flag, field in _FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None:
            data[field] = str(value) if isinstance(value, Path) else value
    if not all(data.get(field) for field in ("endpoint", "key", "server_key")):
        raise ButtonError("need --endpoint, --key and --server-key (or a --config file that sets them)")
    return validate(RoomFile, data, str(args.config or "command line"))


def _request(args: argparse.Namespace) -> int:
    room = _room(args)
    client = RoomClient(room.endpoint, room.keys(), timeout_s=room.timeout_s, retries=room.retries)
    try:
        if args.command == "status":
            reply = client.status()
        else:
            reply = client.request("trigger" if args.command == "press" else "clear", reason=args.reason)
    except NoContact as error:
        print(f"NO CONTACT: {error}. It was NOT delivered; use another way to get help.", file=sys.stderr)
        return EXIT_NO_CONTACT
    except Refused as error:
        print(f"REFUSED: {error}", file=sys.stderr)
        return EXIT_REFUSED
    finally:
        client.close()
    if args.json:
        print(json.dumps(reply))
    else:
        incident = f" incident {reply['incident']}" if reply.get("incident") else ""
        print(f"{reply['room']}: {reply['state'].upper()}{incident}")
    return EXIT_OK


def _desk(args: argparse.Namespace) -> int:
    desk = load_desk_file(args.rooms)

    def show() -> int:
        from panic_button.desk_view import run_desk

        return run_desk(desk)

    return _on_screen(show)


def _indicator(args: argparse.Namespace) -> int:
    from panic_button.indicator_model import IndicatorOptions

    command = tuple(shlex.split(args.cue_command)) if args.cue_command else None
    if args.cue_interval <= 0:
        raise ButtonError("--cue-interval must be positive")
    room, options = _room(args), IndicatorOptions(args.cue_interval, command, args.windowed)

    def show() -> int:
        from panic_button.indicator_view import run_indicator

        return run_indicator(room, room, options)

    return _on_screen(show)


def _on_screen(show: Callable[[], int]) -> int:
    """Run a Tk front end; a Tk failure (e.g. no display) is reported, not a traceback."""
    import tkinter

    try:
        return show()
    except tkinter.TclError as error:
        print(f"panic-button: cannot show the window: {error}", file=sys.stderr)
        return EXIT_FAILED


def _hid(args: argparse.Namespace) -> int:
    try:
        from panic_button import hid
    except ImportError:
        raise ButtonError("evdev " + _EXTRA_HINT.format(extra="hid")) from None
    if args.list:
        print("\n".join(hid.list_devices()) or "no input devices (are you in the 'input' group?)")
        return EXIT_OK
    if not (args.device and args.key_code):
        raise ButtonError("need --device and --key-code (find them with `panic-button hid --list`)")
    room = _room(args)
    return hid.run_hid(room, room, args.device, hid.key_code(args.key_code))


def _gpio(args: argparse.Namespace) -> int:
    try:
        from panic_button.gpio import run_gpio
    except ImportError:
        raise ButtonError("gpiozero " + _EXTRA_HINT.format(extra="gpio")) from None
    room = _room(args)
    return run_gpio(room, room, args.button_pin, args.led_pin)


def _keygen(args: argparse.Namespace) -> int:
    from recorder.keygen import create_curve_keypair

    public, secret = create_curve_keypair(args.dir, args.name)
    print(f"public key: {public}\n  -> copy it into the room's authorized_clients/, then SIGHUP the daemon")
    print(f"secret key: {secret}\n  -> stays on this button (pass it as --key)")
    return EXIT_OK


def _room_options(p: argparse.ArgumentParser, state: bool) -> None:
    p.add_argument("--config", type=Path, help="TOML with endpoint, state_endpoint, key, server_key, ...")
    p.add_argument("--endpoint", help="the daemon's control endpoint, e.g. tcp://10.0.0.5:5570")
    if state:
        p.add_argument("--state-endpoint", help="the daemon's state endpoint, e.g. tcp://10.0.0.5:5571")
        p.add_argument("--heartbeat", type=float, help="the daemon's heartbeat_s (default 1)")
        p.add_argument("--name", help="the room's label (default: its id)")
    p.add_argument("--key", type=Path, help="this client's secret key file (NAME.key_secret)")
    p.add_argument("--server-key", type=Path, help="the daemon's public key file (server.key)")
    p.add_argument("--timeout", type=float, help="seconds to wait per try (default 1)")
    p.add_argument("--retries", type=int, help="tries before giving up (default 3)")


def _add_requests(sub: Any) -> None:
    for name, text in (
        ("press", "raise the alarm: start (or extend) the room's recording"),
        ("clear", "clear the alarm: recording stops after the post-roll"),
        ("status", "print the room's state"),
    ):
        codes = "Exit codes: 0 done, 2 usage, 3 refused by the daemon, 4 no contact (NOT delivered)."
        p = sub.add_parser(name, help=text, description=f"{text[0].upper()}{text[1:]}. {codes}")
        _room_options(p, state=False)
        p.add_argument("--json", action="store_true", help="print the daemon's reply as JSON")
        p.add_argument("--reason", help="why (goes into the audit log)") if name != "status" else None
        p.set_defaults(func=_request, reason=None)


def _add_front_ends(sub: Any) -> None:
    p = sub.add_parser("desk", help="a window with every room's state, alarm and clear buttons (Tk)")
    p.add_argument(
        "--rooms", type=Path, required=True, help="TOML: key, heartbeat_s and one [[room]] per room"
    )
    p.set_defaults(func=_desk, long_running=True)
    p = sub.add_parser("indicator", help="a full-screen RECORDING sign for the citizen (Tk)")
    _room_options(p, state=True)
    p.add_argument("--cue-interval", type=float, default=120.0, help="seconds between cues while recording")
    p.add_argument("--cue-command", help="command that plays the cue (default: the X bell)")
    p.add_argument("--windowed", action="store_true", help="a normal window instead of the whole screen")
    p.set_defaults(func=_indicator, long_running=True)
    p = sub.add_parser("hid", help="a USB panic button that types a key (evdev; grabs the device)")
    _room_options(p, state=False)
    p.add_argument("--device", help="the input device, e.g. /dev/input/by-id/usb-...-event-kbd")
    p.add_argument("--key-code", help="the key that triggers, e.g. KEY_F13 or 183")
    p.add_argument("--list", action="store_true", help="list input devices and exit")
    p.set_defaults(func=_hid, long_running=True)
    p = sub.add_parser("gpio", help="a Raspberry Pi button and LED (gpiozero)")
    _room_options(p, state=True)
    p.add_argument("--button-pin", default="GPIO17", help="the button's pin (default GPIO17)")
    p.add_argument("--led-pin", default="GPIO27", help="the LED's pin (default GPIO27)")
    p.set_defaults(func=_gpio, long_running=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="panic-button", description="Staff alarm client for room-recorder.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_requests(sub)
    _add_front_ends(sub)
    p = sub.add_parser("keygen", help="create a key pair for a new button (NAME.key, NAME.key_secret)")
    p.add_argument("name", help="the button's name, as it will appear in the audit log")
    p.add_argument("--dir", type=Path, default=Path("."), help="where to write the key files")
    p.set_defaults(func=_keygen)
    return parser


def main(argv: list[str] | None = None) -> int:
    from recorder.exit_codes import run_guarded  # any error the clauses below miss: one line, a code

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

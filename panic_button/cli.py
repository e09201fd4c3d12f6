"""`panic-button`: trigger, clear or query a room from the command line; enrol a new button."""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from panic_button.client import ButtonError, ClientKeys, NoContact, Refused, RoomClient

EXIT_OK, EXIT_USAGE, EXIT_REFUSED, EXIT_NO_CONTACT = 0, 2, 3, 4


def _connection(args: argparse.Namespace) -> tuple[str, ClientKeys]:
    settings: dict[str, Any] = {}
    if args.config:
        try:
            settings = tomllib.loads(args.config.read_text())
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ButtonError(f"{args.config}: {error}") from None
        base = args.config.parent
        for key in ("key", "server_key"):
            if key in settings:
                settings[key] = str(base / settings[key])
    endpoint = args.endpoint or settings.get("endpoint")
    key = args.key or settings.get("key")
    server_key = args.server_key or settings.get("server_key")
    if not (endpoint and key and server_key):
        raise ButtonError("need --endpoint, --key and --server-key (or a --config file that sets them)")
    return str(endpoint), ClientKeys.load(Path(key), Path(server_key))


def _request(args: argparse.Namespace) -> int:
    endpoint, keys = _connection(args)
    client = RoomClient(endpoint, keys, timeout_s=args.timeout, retries=args.retries)
    try:
        if args.command == "press":
            reply = client.trigger(args.reason)
        elif args.command == "clear":
            reply = client.clear(args.reason)
        else:
            reply = client.status()
    except NoContact as error:
        print(f"NO CONTACT: {error}. The alarm was NOT delivered; use another way to get help.", file=sys.stderr)
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


def _keygen(args: argparse.Namespace) -> int:
    from recorder.keygen import create_curve_keypair

    public, secret = create_curve_keypair(args.dir, args.name)
    print(f"public key: {public}   -> copy into the room's authorized_clients/ directory, then SIGHUP the daemon")
    print(f"secret key: {secret}   -> stays on this button (pass it as --key)")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="panic-button", description="Staff alarm client for room-recorder.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in (("press", "raise the alarm: start (or extend) the room's recording"),
                       ("clear", "clear the alarm: recording stops after the post-roll"),
                       ("status", "print the room's state")):
        p = sub.add_parser(name, help=text, description=f"{text[0].upper()}{text[1:]}. Exit codes: 0 done, "
                           "3 refused by the daemon, 4 no contact (the alarm was not delivered).")
        p.add_argument("--config", type=Path, help="TOML with endpoint, key and server_key")
        p.add_argument("--endpoint", help="the daemon's control endpoint, e.g. tcp://10.0.0.5:5570")
        p.add_argument("--key", type=Path, help="this button's secret key file (NAME.key_secret)")
        p.add_argument("--server-key", type=Path, help="the daemon's public key file (server.key)")
        p.add_argument("--timeout", type=float, default=1.0, help="seconds to wait per try (default 1)")
        p.add_argument("--retries", type=int, default=3, help="tries before giving up (default 3)")
        p.add_argument("--json", action="store_true", help="print the daemon's reply as JSON")
        if name != "status":
            p.add_argument("--reason", help="why (goes into the audit log)")
        else:
            p.set_defaults(reason=None)
        p.set_defaults(func=_request)
    p = sub.add_parser("keygen", help="create a key pair for a new button (NAME.key, NAME.key_secret)")
    p.add_argument("name", help="the button's name, as it will appear in the audit log")
    p.add_argument("--dir", type=Path, default=Path("."), help="where to write the key files")
    p.set_defaults(func=_keygen)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (ButtonError, FileExistsError) as error:
        print(f"panic-button: {error}", file=sys.stderr)
        return EXIT_USAGE
    return code


if __name__ == "__main__":
    sys.exit(main())

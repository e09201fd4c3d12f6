"""`recorder install ROOM` and `recorder uninstall ROOM`: the system user, directories, keys, config and
systemd units of one room, idempotently (a step already done is kept). Uninstall never deletes
incidents, the audit log, keys or the config."""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from recorder.config import parse_config
from recorder.errors import ConfigError, RecorderError
from recorder.keygen import create_curve_keypair
from recorder.messages import _

USER = "room-recorder"
FIRST_PORT = 5570
ROOM_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
SYSTEM_UNITS = ("recorder@.service", "panic-button-hid@.service", "panic-button-gpio@.service")
USER_UNITS = ("room-indicator@.service",)
_EXAMPLE_ROOM = "interview-2"
_SYSUSERS = f'u {USER} - "room-recorder daemon" /var/lib/room-recorder /usr/sbin/nologin\n'
_TMPFILES = """d /etc/room-recorder 0755 root root -
d /etc/room-recorder/keys 0755 root root -
d /etc/room-recorder/buttons 0755 root root -
"""
_ROOM_TMPFILES = f"""d /etc/room-recorder/{{room}} 0750 root {USER} -
d /etc/room-recorder/{{room}}/authorized_clients 0750 root {USER} -
"""


class InstallError(RecorderError):
    """A step of install or uninstall could not be done (the message says which and why)."""


@dataclass(frozen=True)
class Layout:
    """Where a room's files go, under `root` (`/`, or an image being prepared)."""

    root: Path = Path("/")

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    @property
    def etc(self) -> Path:
        return self.path("/etc/room-recorder")

    def config(self, room: str) -> Path:
        return self.etc / f"{room}.toml"

    def tmpfiles(self, room: str | None = None) -> Path:
        return self.path(f"/etc/tmpfiles.d/room-recorder{'-' + room if room else ''}.conf")

    @property
    def sysusers(self) -> Path:
        return self.path("/etc/sysusers.d/room-recorder.conf")

    @property
    def live(self) -> bool:
        """Installing into the running system, and systemd runs it."""
        return self.root == Path("/") and Path("/run/systemd/system").is_dir()


def shipped(name: str) -> Path:
    """A file shipped in the package (recorder/share): the example config or a unit under systemd/."""
    return Path(str(resources.files("recorder") / "share" / name))


def install(room: str | None, layout: Layout, recipients: list[str], port: int | None) -> list[str]:
    """Set up `room`, or without a room only what all rooms share (the user, directories and this
    release's units: after an upgrade or a roll-back). Returns one line per step. Raises InstallError."""
    if room is not None:
        _check_room(room)
    try:
        return _install(room, layout, recipients, port)
    except OSError as error:
        raise InstallError(_os_error(error)) from None


def _install(room: str | None, layout: Layout, recipients: list[str], port: int | None) -> list[str]:
    steps = [
        _write(layout.sysusers, _SYSUSERS, 0o644),
        _run(["systemd-sysusers", *_root_option(layout), str(layout.sysusers)]),
        _write(layout.tmpfiles(), _TMPFILES, 0o644),
        _run(["systemd-tmpfiles", "--create", *_root_option(layout), str(layout.tmpfiles())]),
    ]
    if room is not None:
        steps += [
            _write(layout.tmpfiles(room), _ROOM_TMPFILES.format(room=room), 0o644),
            _run(["systemd-tmpfiles", "--create", *_root_option(layout), str(layout.tmpfiles(room))]),
            _server_keys(room, layout),
            _room_config(room, layout, recipients, port),
            _client_file(room, layout),
        ]
    steps += _install_units(layout)
    if layout.live:
        steps.append(_run(["systemctl", "daemon-reload"]))
    return steps


def uninstall(room: str, layout: Layout) -> list[str]:
    """Stop and disable `room`; remove the units when it was the last room. Keeps every file with data."""
    _check_room(room)
    try:
        return _uninstall(room, layout)
    except OSError as error:
        raise InstallError(_os_error(error)) from None


def _uninstall(room: str, layout: Layout) -> list[str]:
    steps = []
    if layout.live and _unit_paths(layout)[0].exists():
        steps.append(_run(["systemctl", "disable", "--now", f"recorder@{room}.service"]))
    if layout.tmpfiles(room).exists():
        layout.tmpfiles(room).unlink()
        steps.append(_step(_("removed"), layout.tmpfiles(room)))
    if not list(layout.tmpfiles().parent.glob("room-recorder-*.conf")):
        for unit in _unit_paths(layout):
            if unit.exists():
                unit.unlink()
                steps.append(_step(_("removed"), unit) + " " + _("(no room left)"))
        if layout.live:
            steps.append(_run(["systemctl", "daemon-reload"]))
    kept = [
        layout.config(room),
        layout.etc / room,
        layout.etc / "keys",
        layout.path(f"/var/lib/room-recorder/{room}"),
    ]
    steps += [_step(_("kept"), path) for path in kept if path.exists()]
    return steps


def next_steps(room: str, layout: Layout) -> str:
    config = layout.config(room)
    steps = _("""Next steps for room {room}:
  1. Edit {config}: storage.recipients (the officer's age1… key), [video] and [audio]
     (`recorder devices` lists cameras and microphones), control.endpoint if buttons are on other machines.
  2. recorder check-config {config}
  3. Enrol each button: panic-button keygen NAME --dir /etc/room-recorder/buttons
     cp /etc/room-recorder/buttons/NAME.key {clients}/
  4. systemctl enable --now recorder@{room}
  5. Hand over: the audit verify key (/var/lib/room-recorder/{room}/audit.jsonl.verify-key) to the auditor.
See docs/deploy.md.""")
    return "\n" + steps.format(room=room, config=config, clients=layout.etc / room / "authorized_clients")


def _step(done: str, what: object) -> str:
    """One line of the steps' list: what was done (a column 7 wide), then to what."""
    return f"{done:<7} {what}"


def _os_error(error: OSError) -> str:
    hint = " " + _("(run as root)") if error.errno in (errno.EACCES, errno.EPERM) else ""
    return f"{error.filename}: {error.strerror}{hint}"


def _check_room(room: str) -> None:
    if not ROOM_ID.match(room):
        raise InstallError(
            _("room {room!r}: use lower-case letters, digits, '-' and '_' (max 63)").format(room=room)
        )


def _root_option(layout: Layout) -> list[str]:
    return [] if layout.root == Path("/") else [f"--root={layout.root}"]


def _run(command: list[str]) -> str:
    if shutil.which(command[0]) is None:
        raise InstallError(
            _("{command} not found: install systemd (Debian 12 or newer)").format(command=command[0])
        )
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise InstallError(
            _("{command} failed: {error}").format(
                command=" ".join(command), error=result.stderr.strip() or result.returncode
            )
        )
    return _step(_("ran"), " ".join(command))


def _write(path: Path, text: str, mode: int, group: int | None = None) -> str:
    if path.exists():
        return _step(_("kept"), path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    if group is not None:
        os.chown(path, 0, group)
    os.chmod(path, mode)
    return _step(_("created"), path)


def _group_id(layout: Layout) -> int:
    for line in layout.path("/etc/group").read_text().splitlines():
        name, _password, gid, *_ = line.split(":")
        if name == USER:
            return int(gid)
    raise InstallError(_("group {user} missing after systemd-sysusers").format(user=USER))


def _server_keys(room: str, layout: Layout) -> str:
    keys = layout.etc / "keys"
    secret = keys / f"{room}.key_secret"
    if secret.exists():
        return _step(_("kept"), secret)
    public, _secret = create_curve_keypair(keys, room)
    os.chown(secret, 0, _group_id(layout))
    secret.chmod(0o640)  # readable by the daemon's group, not by the world
    public.chmod(0o644)  # the buttons' units run as dynamic users
    return _("created {secret} and {room}.key (give the .key to every button of this room)").format(
        secret=secret, room=room
    )


def _room_config(room: str, layout: Layout, recipients: list[str], port: int | None) -> str:
    path = layout.config(room)
    if path.exists():
        return _step(_("kept"), path)
    chosen = port if port is not None else _free_port(layout)
    text = shipped("room.example.toml").read_text()
    text = text.replace(_EXAMPLE_ROOM, room).replace("keys/server.key_secret", f"keys/{room}.key_secret")
    text = text.replace(f":{FIRST_PORT}", f":{chosen}").replace(f":{FIRST_PORT + 1}", f":{chosen + 1}")
    if recipients:
        listed = ", ".join(f'"{r}"' for r in recipients)
        text = re.sub(r"(?m)^recipients = \[.*\]$", f"recipients = [{listed}]", text)
    try:
        parse_config(tomllib.loads(text), path.parent)
    except (ConfigError, tomllib.TOMLDecodeError) as error:
        raise InstallError(
            _("the example config does not make a valid room file: {error}").format(error=error)
        ) from None
    step = _write(path, text, 0o640, _group_id(layout))
    if not recipients:
        step += "\n  " + _(
            "WARNING: storage.recipients is the example's placeholder: set the officer's recipient"
        )
    return step


def _client_file(room: str, layout: Layout) -> str:
    """The settings every front end of this room needs (its own key is given with --key)."""
    config = tomllib.loads(layout.config(room).read_text())["control"]
    text = (
        f"# How buttons, desk and indicator reach room {room} (give each its own --key).\n"
        f'endpoint = "{config["endpoint"]}"\n'
        f'state_endpoint = "{config["state_endpoint"]}"\n'
        f'server_key = "/etc/room-recorder/keys/{room}.key"\n'
    )
    return _write(layout.etc / room / "client.toml", text, 0o644)


def _free_port(layout: Layout) -> int:
    """The first pair of ports (control, state) from 5570 that no other room's config uses."""
    used: set[int] = set()
    for other in layout.etc.glob("*.toml"):
        used.update(int(p) for p in re.findall(r"tcp://[^\s\"]+:(\d+)", other.read_text()))
    port = FIRST_PORT
    while port in used or port + 1 in used:
        port += 2
    return port


def _unit_paths(layout: Layout) -> list[Path]:
    system = [layout.path(f"/etc/systemd/system/{name}") for name in SYSTEM_UNITS]
    return system + [layout.path(f"/etc/systemd/user/{name}") for name in USER_UNITS]


def _install_units(layout: Layout) -> list[str]:
    """Copy the release's units into /etc/systemd (replacing older ones: local changes belong in
    drop-ins, `systemctl edit`). Copies, not links: `systemctl enable` resolves a linked template
    to the release's own directory, which an upgrade leaves behind and may delete."""
    steps = []
    for path in _unit_paths(layout):
        text = shipped(f"systemd/{path.name}").read_text()
        if path.is_file() and not path.is_symlink() and path.read_text() == text:
            steps.append(_step(_("kept"), path))
            continue
        done = _("updated") if path.exists() or path.is_symlink() else _("created")
        path.unlink(missing_ok=True)
        _write(path, text, 0o644)
        steps.append(_step(done, path))
    return steps

"""`panic-button hid`: a USB panic button that types a key (evdev), grabbed so the key goes nowhere else."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import evdev
import structlog
from evdev import InputEvent, ecodes

from panic_button.client import ButtonError, RoomClient
from panic_button.config import RoomLink, Timing
from panic_button.i18n import _
from panic_button.worker import ActionWorker

log = structlog.get_logger()

KEY_DOWN = 1  # evdev key values: 0 up, 1 down, 2 autorepeat


def key_code(name: str) -> int:
    """The evdev code of a key given as `KEY_F13`, `F13` or a number. Raises ButtonError."""
    if name.isdigit():
        return int(name)
    code = ecodes.ecodes.get(name.upper()) or ecodes.ecodes.get(f"KEY_{name.upper()}")
    if not isinstance(code, int):
        message = _("unknown key {name}: use a name like KEY_F13 (see `panic-button hid --list`)")
        raise ButtonError(message.format(name=name))
    return code


class KeyPressReader:
    """Picks the presses of one key out of a device's events: key-down only, so holding the key
    (autorepeat) or releasing it does not trigger again."""

    def __init__(self, code: int) -> None:
        self.code = code

    def presses(self, events: Iterable[InputEvent]) -> Iterator[InputEvent]:
        for event in events:
            if event.type == ecodes.EV_KEY and event.code == self.code and event.value == KEY_DOWN:
                yield event


def serve(events: Iterable[InputEvent], reader: KeyPressReader, worker: ActionWorker) -> int:
    """Send a trigger for every press until `events` ends; returns how many presses were seen. A
    press while a trigger is already waiting is coalesced into it (see ActionWorker)."""
    presses = 0
    for press in reader.presses(events):
        presses += 1
        sent = worker.submit("trigger")
        log.info("hid_key_pressed", code=press.code, at=press.timestamp(), sent=sent)
    return presses


@contextlib.contextmanager
def grabbed(path: str) -> Iterator[evdev.InputDevice[str]]:
    """Open and grab an input device (no other program sees its keys); release it on exit.
    Raises ButtonError if it cannot be opened or is grabbed by someone else."""
    try:
        device = evdev.InputDevice(path)
    except OSError as error:
        raise ButtonError(_("cannot open {path}: {error}").format(path=path, error=error)) from None
    try:
        device.grab()
    except OSError as error:
        device.close()
        message = _("cannot grab {path} (another program holds it?): {error}")
        raise ButtonError(message.format(path=path, error=error)) from None
    log.info("hid_device_grabbed", path=path, name=device.name)
    try:
        yield device
    finally:
        with contextlib.suppress(OSError):  # an unplugged device cannot be released
            device.ungrab()
        device.close()


def list_devices() -> list[str]:
    """One line per input device: its path, name and whether it has keys."""
    lines = []
    for path in evdev.list_devices():
        with contextlib.closing(evdev.InputDevice(path)) as device:
            keys = ecodes.EV_KEY in device.capabilities()
            kind = _("keys") if keys else _("no keys")
            lines.append(f"{path}\t{device.name}\t{kind}")
    return lines


def run_hid(link: RoomLink, timing: Timing, path: str, code: int) -> int:
    """Read the device until it goes away; returns 1 then, so that systemd restarts the service.
    Raises ButtonError for bad keys or a device that cannot be opened or grabbed."""
    client = RoomClient(link.endpoint, link.keys(), timeout_s=timing.timeout_s, retries=timing.retries)
    worker = ActionWorker(client, lambda _outcome: None, reason="hid button").start()  # it logs outcomes
    try:
        with grabbed(path) as device:
            log.info("hid_started", path=path, code=code, endpoint=link.endpoint)
            serve(device.read_loop(), KeyPressReader(code), worker)
    except OSError as error:
        log.error("hid_device_lost", path=path, error=str(error))
        return 1
    finally:
        worker.close()
    return 0

"""`recorder demo`: the whole path on built-in test sources, in a temporary directory, with progress."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from panic_button.client import ClientKeys, NoContact, RoomClient
from recorder.audit.verify import load_initial_key, verify
from recorder.config import load_config
from recorder.incident.export_incident import export_incident
from recorder.keygen import create_curve_keypair, create_officer_identity
from recorder.messages import _

PRE_ROLL_S = 5.0
POST_ROLL_S = 2.0


@dataclass
class DemoRoom:
    """The files of a one-room installation, laid out as a technician would."""

    root: Path
    config: Path
    client_keys: ClientKeys
    officer_identity: Path
    endpoint: str


_handed_out: set[int] = set()
_handed_out_lock = (
    threading.Lock()
)  # taken by any thread asking for a port (benchmarks run modules in threads)


def free_tcp_port() -> int:
    """A loopback port that is free now and was not handed out before by this process: a port that was
    closed again is free in the kernel's eyes and could otherwise go to two callers before either binds."""
    with _handed_out_lock:
        while True:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port: int = sock.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port


def write_room_config(
    root: Path, recipient: str, pre_roll_s: float, post_roll_s: float, extra: str = ""
) -> Path:
    endpoint, state = f"tcp://127.0.0.1:{free_tcp_port()}", f"tcp://127.0.0.1:{free_tcp_port()}"
    config = root / "room.toml"
    config.write_text(
        f"""room = "demo-room"

[video]
source = "test-pattern"
width = 640
height = 360
fps = 15

[audio]
source = "test-tone"

[recording]
pre_roll_s = {pre_roll_s}
post_roll_s = {post_roll_s}

[control]
endpoint = "{endpoint}"
state_endpoint = "{state}"
server_secret_key = "keys/server.key_secret"
authorized_clients = "authorized_clients"

[storage]
directory = "state"
recipients = ["{recipient}"]
{extra}"""
    )
    return config


def set_up_room(root: Path, pre_roll_s: float = PRE_ROLL_S, post_roll_s: float = POST_ROLL_S) -> DemoRoom:
    """Keys, enrolment and config, as the README's installation steps do them."""
    server_public, _ = create_curve_keypair(root / "keys", "server")
    client_public, client_secret = create_curve_keypair(root / "button", "demo-button")
    (root / "authorized_clients").mkdir(mode=0o700)
    shutil.copy(client_public, root / "authorized_clients" / "demo-button.key")
    officer = root / "officer" / "identity.txt"
    officer.parent.mkdir(mode=0o700)
    recipient = create_officer_identity(officer)
    config = write_room_config(root, recipient, pre_roll_s, post_roll_s)
    endpoint = config.read_text().split('endpoint = "')[1].split('"')[0]
    return DemoRoom(root, config, ClientKeys.load(client_secret, server_public), officer, endpoint)


def _step(message: str) -> None:
    print(f"==> {message}", flush=True)


def _countdown(seconds: float, label: str) -> None:
    if not sys.stdout.isatty():
        print(f"    {label}: {seconds:g} s", flush=True)
        time.sleep(seconds)
        return
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        left_text = _("{seconds:4.1f} s left").format(seconds=left)
        print(f"\r    {label}: {left_text} ", end="", flush=True)
        time.sleep(min(0.5, left))
    done = _("done")
    print(f"\r    {label}: {done}{' ' * 12}", flush=True)


def _wait_for(client: RoomClient, state: str, timeout_s: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            reply = client.status()
            if reply["state"] == state:
                return reply
        except NoContact:
            pass
        time.sleep(0.2)
    raise RuntimeError(
        _("daemon did not reach state {state!r} within {timeout_s} s").format(
            state=state, timeout_s=timeout_s
        )
    )


def run_demo(keep: Path | None, record_s: float) -> int:
    root = keep or Path(tempfile.mkdtemp(prefix="recorder-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    _step(
        _("setting up a demo room in {root} (server keys, an enrolled button, an officer identity)").format(
            root=root
        )
    )
    room = set_up_room(root)
    log_path = root / "daemon.log"
    _step(_("starting the daemon on built-in test sources (log: {log})").format(log=log_path))
    with log_path.open("w") as log_file:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "recorder", "run", "--config", str(room.config)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    client = RoomClient(room.endpoint, room.client_keys, timeout_s=1.0, retries=3)
    try:
        _wait_for(client, "idle", timeout_s=20)
        _countdown(
            PRE_ROLL_S + 0.5,
            _("filling the {seconds:g} s pre-roll (nothing is written to disk)").format(seconds=PRE_ROLL_S),
        )
        _step(_("pressing the panic button"))
        started = time.monotonic()
        reply = client.trigger(reason="demo")
        print(
            "    "
            + _("acknowledged in {ms:.1f} ms: state={state} incident={incident}").format(
                ms=1000 * (time.monotonic() - started), state=reply["state"], incident=reply["incident"]
            )
        )
        _countdown(record_s, _("recording"))
        _step(_("clearing the alarm"))
        client.clear(reason="demo finished")  # goes into the audit log: not translated
        _wait_for(client, "idle", timeout_s=POST_ROLL_S + 10)
        print(
            "    " + _("post-roll of {seconds:g} s done; back to buffering only").format(seconds=POST_ROLL_S)
        )
    finally:
        client.close()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
    storage = load_config(room.config).storage
    incident = storage.incident_path(reply["incident"])
    _step(_("exporting the incident with the officer's identity"))
    result = export_incident(
        incident, room.officer_identity, root / "incident.mp4", progress=sys.stderr.isatty()
    )
    _step(_("verifying the audit log with the auditor's key"))
    audit_log = storage.audit_path
    report = verify(audit_log, load_initial_key(storage.verify_key_path))
    _print_summary(root, incident, result.summary(), report.ok, report.entries, audit_log)
    return 0 if report.ok and daemon.returncode == 0 else 1


def _print_summary(
    root: Path, incident: Path, export: str, audit_ok: bool, entries: int, audit_log: Path
) -> None:
    from recorder.audit.verify import read_entries

    started = next(e for _seq, e, _raw in read_entries(audit_log) if e and e["event"] == "incident_started")
    pre = started["data"]["pre_roll"]
    print()
    print(_("Summary"))
    rows = [
        (
            _("incident"),
            _("{incident} (triggered by {client})").format(
                incident=started["data"]["incident"], client=started["data"]["client"]
            ),
        ),
        (
            _("pre-roll"),
            _(
                "{delivered:.2f} s delivered of {configured:g} s configured "
                "({frames} frames, {samples} audio samples)"
            ).format(
                delivered=pre["delivered_s"],
                configured=pre["configured_s"],
                frames=pre["video_frames"],
                samples=pre["audio_samples"],
            ),
        ),
        (_("export"), export),
        (
            _("audit log"),
            (_("verified, {entries} entries") if audit_ok else _("FAILED, {entries} entries")).format(
                entries=entries
            ),
        ),
        (
            _("files"),
            _("{incident} (encrypted), {video}, {log}").format(
                incident=incident, video=root / "incident.mp4", log=audit_log
            ),
        ),
    ]
    width = max(13, *(len(label) for label, _value in rows))
    for label, value in rows:
        print(f"  {label:<{width}} {value}")

"""`check-config` says OK exactly when `run` can start: both run one preflight, print the same lines
and exit 2 on the same problems, and a `run` that fails has created no file."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from recorder.config import parse_config
from recorder.demo import DemoRoom, set_up_room
from recorder.errors import ConfigError
from recorder.incident import bech32
from tests.support import needs_tools, start_daemon

Setup = Callable[[DemoRoom, contextlib.ExitStack], str]


def recorder(*args: str, user: int | None = None) -> subprocess.CompletedProcess[str]:
    prefix = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] if user is not None else []
    return subprocess.run(
        [*prefix, sys.executable, "-m", "recorder", *args], capture_output=True, text=True, timeout=60
    )


def edit(room: DemoRoom, old: str, new: str) -> None:
    text = room.config.read_text()
    assert old in text
    room.config.write_text(text.replace(old, new, 1))


def port_in_use(room: DemoRoom, stack: contextlib.ExitStack) -> str:
    port = int(room.endpoint.rsplit(":", 1)[1])
    sock = stack.enter_context(socket.socket())
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return f"control.endpoint: cannot bind {room.endpoint}: Address already in use"


def same_endpoints(room: DemoRoom, stack: contextlib.ExitStack) -> str:
    state = room.config.read_text().split('state_endpoint = "')[1].split('"')[0]
    edit(room, state, room.endpoint)
    return "control.state_endpoint: the same as control.endpoint"


def public_key_as_secret(room: DemoRoom, stack: contextlib.ExitStack) -> str:
    edit(room, "keys/server.key_secret", "keys/server.key")
    return "control.server_secret_key: " + str(room.root / "keys/server.key") + " holds only a public key"


def storage_is_a_file(room: DemoRoom, stack: contextlib.ExitStack) -> str:
    (room.root / "state").write_text("not a directory\n")
    return f"storage.directory: {room.root / 'state'} is not a directory"


def storage_read_only(room: DemoRoom, stack: contextlib.ExitStack) -> str:
    state = room.root / "state"
    state.mkdir(mode=0o700)
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(state)], capture_output=True
    )
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {mount.stderr!r}")
    stack.callback(subprocess.run, ["umount", str(state)], check=True)
    return f"storage.directory: {state} is not writable (read-only file system)"


def storage_parent_read_only(room: DemoRoom, stack: contextlib.ExitStack) -> str:
    storage_read_only(room, stack)
    edit(room, 'directory = "state"', 'directory = "state/room"')
    return f"storage.directory: {room.root / 'state'} is not writable (read-only file system)"


def fps_true(room: DemoRoom, stack: contextlib.ExitStack) -> str:
    edit(room, "fps = 15", "fps = true")
    return "video.fps: Input should be a valid number"


def recipient_typo(room: DemoRoom, stack: contextlib.ExitStack) -> str:
    recipient = room.config.read_text().split('recipients = ["')[1].split('"')[0]
    last = recipient[-1]
    edit(room, recipient, recipient[:-1] + ("q" if last != "q" else "p"))
    return "storage.recipients.0: Value error, not a valid age recipient (bech32: checksum mismatch)"


def recipient_low_order(room: DemoRoom, stack: contextlib.ExitStack) -> str:
    recipient = room.config.read_text().split('recipients = ["')[1].split('"')[0]
    edit(room, recipient, bech32.encode("age", bytes(32)))
    return "storage.recipients.0: Value error, a low-order X25519 point"


def ring_larger_than_memory(room: DemoRoom, stack: contextlib.ExitStack) -> str:
    total = next(
        int(line.split()[1]) * 1024
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    edit(room, "[recording]\n", f"[recording]\nmax_ring_bytes = {10 * total}\n")  # a zero too many
    return "recording.max_ring_bytes: with writer_queue_bytes, more memory than this machine has"


CASES: list[Setup] = [
    port_in_use,
    same_endpoints,
    public_key_as_secret,
    storage_is_a_file,
    storage_read_only,
    storage_parent_read_only,
    fps_true,
    recipient_typo,
    recipient_low_order,
    ring_larger_than_memory,
]


def _files(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if not path.is_dir()}


@pytest.mark.parametrize("setup", CASES, ids=[case.__name__ for case in CASES])
def test_run_fails_where_check_config_fails_with_the_same_message_and_no_file(
    tmp_path: Path, setup: Setup
) -> None:
    room = set_up_room(tmp_path)
    with contextlib.ExitStack() as stack:
        expected = setup(room, stack)
        before = _files(tmp_path)
        check = recorder("check-config", str(room.config))
        run = recorder("run", "--config", str(room.config))
        after = _files(tmp_path)
    assert (check.returncode, run.returncode) == (2, 2), check.stdout + check.stderr + run.stderr
    assert expected in check.stderr
    assert run.stderr == check.stderr
    assert "Traceback" not in check.stderr + run.stderr + run.stdout
    assert after == before, f"run created {after - before}"


def test_a_missing_camera_file_is_a_warning_not_an_error(tmp_path: Path) -> None:
    room = set_up_room(tmp_path)
    edit(room, 'source = "test-pattern"', f'source = "camera"\ndevice = "{tmp_path / "gone.mkv"}"')
    result = recorder("check-config", str(room.config))
    assert result.returncode == 0, result.stderr
    assert f"warning: video.device: no such video file: {tmp_path / 'gone.mkv'}" in result.stderr
    assert "OK" in result.stdout


@contextlib.contextmanager
def world_readable_room() -> Iterator[DemoRoom]:
    """A room under a directory that another user may enter (pytest's own is 0700)."""
    root = Path(tempfile.mkdtemp(prefix="room-"))
    try:
        root.chmod(0o755)
        room = set_up_room(root)
        for path in [root, *root.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        yield room
    finally:
        shutil.rmtree(root)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the commands as another user")
def test_an_unwritable_storage_directory_stops_both_without_a_traceback() -> None:
    nobody = 65534
    with world_readable_room() as room:
        (room.root / "state").mkdir(mode=0o755)  # root's; nobody may not write in it
        check = recorder("check-config", str(room.config), user=nobody)
        run = recorder("run", "--config", str(room.config), user=nobody)
        files = list((room.root / "state").iterdir())
    expected = f"storage.directory: {room.root / 'state'} is not writable (permission denied)"
    assert (check.returncode, run.returncode) == (2, 2), check.stderr + run.stderr
    assert expected in check.stderr and run.stderr == check.stderr
    assert "Traceback" not in run.stdout + run.stderr and files == []


def _age_accepts(recipient: str) -> bool:
    return (
        subprocess.run(["age", "-r", recipient], input=b"x", capture_output=True, timeout=30).returncode == 0
    )


def _config_accepts(recipient: str, base: DemoRoom) -> bool:
    data = {
        "room": "r1",
        "control": {"server_secret_key": "k", "authorized_clients": "c"},
        "storage": {"directory": "s", "recipients": [recipient]},
    }
    try:
        parse_config(data, base.root)
    except ConfigError:
        return False
    return True


@needs_tools("age")
def test_the_config_accepts_a_recipient_exactly_when_stock_age_does(tmp_path: Path) -> None:
    room = set_up_room(tmp_path)
    good = room.config.read_text().split('recipients = ["')[1].split('"')[0]
    candidates = [
        good,
        good[:-1] + ("q" if good[-1] != "q" else "p"),
        good[:10] + ("q" if good[10] != "q" else "p") + good[11:],
        good.upper(),
        f" {good}",
        good[:-2],
        *(bech32.encode("age", point) for point in (bytes(32), (1).to_bytes(32, "little"))),
        bech32.encode("age", bytes(range(1, 33))),
    ]
    verdicts = [(_config_accepts(text, room), _age_accepts(text)) for text in candidates]
    assert [ours for ours, _ in verdicts] == [theirs for _, theirs in verdicts]
    assert verdicts[0] == (True, True) and verdicts[-1] == (True, True)


def test_check_config_beside_the_rooms_running_daemon_warns_and_run_still_refuses(tmp_path: Path) -> None:
    """Before an upgrade's restart a technician checks the config while the room runs: the room's own
    daemon holding its ports is not a problem for `check-config`; a second `run` is refused."""
    room = set_up_room(tmp_path / "room", pre_roll_s=1.0, post_roll_s=0.5)
    daemon = start_daemon(room)
    try:
        checked = recorder("check-config", str(room.config))
        assert checked.returncode == 0, checked.stderr
        assert f"held by this room's running daemon (pid {daemon.process.pid})" in checked.stderr
        second = recorder("run", "--config", str(room.config))
        assert second.returncode == 2
        # the storage lock speaks first (one line): the ports are checked only once the rest is sound
        assert f"in use by another daemon (pid {daemon.process.pid} holds daemon.lock)" in second.stderr
    finally:
        daemon.stop()


def test_a_port_held_by_another_program_is_still_a_problem_for_check_config(tmp_path: Path) -> None:
    room = set_up_room(tmp_path / "room", pre_roll_s=1.0, post_roll_s=0.5)
    with contextlib.ExitStack() as stack:
        expected = port_in_use(room, stack)
        checked = recorder("check-config", str(room.config))
    assert checked.returncode == 2 and expected in checked.stderr

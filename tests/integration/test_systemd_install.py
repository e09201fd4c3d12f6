"""`recorder install` / `uninstall` into an image root with the real systemd-sysusers and systemd-tmpfiles."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from recorder.config import load_config
from tests.support import needs_tools

pytestmark = needs_tools("systemd-sysusers", "systemd-tmpfiles")
RECIPIENT = "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq"


def _recorder(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "recorder", *args], capture_output=True, text=True)


def _tree(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        if path.is_file()
        else "dir"
        for path in sorted(root.rglob("*"))
    }


def test_install_creates_user_directories_keys_config_and_units(tmp_path: Path) -> None:
    result = _recorder("install", "room-a", "--root", str(tmp_path), "--recipient", RECIPIENT)
    assert result.returncode == 0, result.stderr
    assert "room-recorder:" in (tmp_path / "etc/passwd").read_text()
    config = load_config(tmp_path / "etc/room-recorder/room-a.toml")
    assert (config.room, config.storage.recipients) == ("room-a", [RECIPIENT])
    assert config.control.server_secret_key == Path("/etc/room-recorder/keys/room-a.key_secret")
    assert (tmp_path / "etc/room-recorder/keys/room-a.key_secret").stat().st_mode & 0o777 == 0o640
    # A button's unit runs as a dynamic user: it must reach the server's public key.
    assert (tmp_path / "etc/room-recorder/keys").stat().st_mode & 0o005 == 0o005
    assert (tmp_path / "etc/room-recorder/keys/room-a.key").stat().st_mode & 0o004 == 0o004
    assert (tmp_path / "etc/room-recorder/room-a/authorized_clients").is_dir()
    unit = tmp_path / "etc/systemd/system/recorder@.service"
    assert not unit.is_symlink() and "ExecStart=/opt/room-recorder/bin/recorder run" in unit.read_text()
    assert (tmp_path / "etc/systemd/user/room-indicator@.service").is_file()
    assert "systemctl enable --now recorder@room-a" in result.stdout
    assert "WARNING" not in result.stdout


def test_install_without_a_recipient_warns_of_the_placeholder(tmp_path: Path) -> None:
    result = _recorder("install", "room-a", "--root", str(tmp_path))
    assert "WARNING: storage.recipients is the example's placeholder" in result.stdout


def test_install_again_changes_nothing(tmp_path: Path) -> None:
    assert _recorder("install", "room-a", "--root", str(tmp_path)).returncode == 0
    before = _tree(tmp_path)
    again = _recorder("install", "room-a", "--root", str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert _tree(tmp_path) == before
    assert "created" not in again.stdout and "kept" in again.stdout


def test_a_second_room_gets_the_next_free_ports(tmp_path: Path) -> None:
    for room in ("room-a", "room-b"):
        assert _recorder("install", room, "--root", str(tmp_path)).returncode == 0
    endpoint = load_config(tmp_path / "etc/room-recorder/room-b.toml").control
    assert (endpoint.endpoint, endpoint.state_endpoint) == ("tcp://127.0.0.1:5572", "tcp://127.0.0.1:5573")


def test_uninstall_keeps_incidents_audit_keys_and_config(tmp_path: Path) -> None:
    assert _recorder("install", "room-a", "--root", str(tmp_path)).returncode == 0
    state = tmp_path / "var/lib/room-recorder/room-a"
    state.mkdir(parents=True)
    (state / "audit.jsonl").write_text("{}\n")
    (state / "room-a-x.age").write_bytes(b"age")
    result = _recorder("uninstall", "room-a", "--root", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (state / "audit.jsonl").exists() and (state / "room-a-x.age").exists()
    assert (tmp_path / "etc/room-recorder/room-a.toml").exists()
    assert (tmp_path / "etc/room-recorder/keys/room-a.key_secret").exists()
    assert not (tmp_path / "etc/systemd/system/recorder@.service").exists()  # the last room went


def test_a_bad_room_id_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = _recorder("install", "Room A", "--root", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith("recorder: room 'Room A'") and "Traceback" not in result.stderr


def test_an_unwritable_root_is_one_line_and_exit_1(tmp_path: Path) -> None:
    root = tmp_path / "image"
    root.write_text("not a directory")  # (permissions would not stop root, who runs the tests)
    result = _recorder("install", "room-a", "--root", str(root))
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr


def test_install_without_a_room_replaces_an_older_release_units(tmp_path: Path) -> None:
    assert _recorder("install", "room-a", "--root", str(tmp_path)).returncode == 0
    unit = tmp_path / "etc/systemd/system/recorder@.service"
    unit.write_text("# an older release's unit\n")
    result = _recorder("install", "--root", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"updated {unit}" in result.stdout and "ExecStart=/opt/room-recorder/bin/" in unit.read_text()
    assert "Next steps" not in result.stdout

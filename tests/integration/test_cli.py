"""The `recorder` commands as an operator, officer and auditor use them, on the demo's real output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import pytest

COMMANDS = [
    "run",
    "check-config",
    "keygen",
    "export",
    "incidents",
    "purge",
    "hold",
    "audit",
    "demo",
    "devices",
]


def recorder(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recorder", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    result = recorder("demo", "--keep", str(root), "--record-seconds", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "audit log     verified" in result.stdout
    return root


def _incident(demo_dir: Path) -> Path:
    (incident,) = (demo_dir / "state").glob("*.age")
    return incident


def test_demo_delivers_the_pre_roll_and_a_playable_mp4(demo_dir: Path) -> None:
    with av.open(str(demo_dir / "incident.mp4")) as container:
        codecs = sorted(s.codec_context.name for s in container.streams)
        duration = float(container.duration or 0) / 1e6
    assert codecs == ["aac", "h264"]
    assert duration >= 5 + 2  # 5 s pre-roll + 2 s recording (+ post-roll)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = recorder(command, "--help")
    assert result.returncode == 0
    assert "usage: recorder " + command in result.stdout


def test_export_mkv_is_a_stream_copy(demo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy.mkv"
    result = recorder(
        "export",
        str(_incident(demo_dir)),
        "--identity",
        str(demo_dir / "officer" / "identity.txt"),
        "-o",
        str(out),
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    with av.open(str(out)) as container:
        assert sorted(s.codec_context.name for s in container.streams) == ["mjpeg", "pcm_s16le"]


def test_export_with_a_wrong_identity_is_a_clear_error(demo_dir: Path, tmp_path: Path) -> None:
    assert recorder("keygen", "officer", "--out", str(tmp_path / "other.txt")).returncode == 0
    result = recorder(
        "export",
        str(_incident(demo_dir)),
        "--identity",
        str(tmp_path / "other.txt"),
        "-o",
        str(tmp_path / "x.mp4"),
        "--quiet",
    )
    assert result.returncode == 1
    assert "identity" in result.stderr.lower()
    assert not (tmp_path / "x.mp4").exists()


def test_export_refuses_to_overwrite(demo_dir: Path) -> None:
    result = recorder(
        "export",
        str(_incident(demo_dir)),
        "--identity",
        str(demo_dir / "officer" / "identity.txt"),
        "-o",
        str(demo_dir / "incident.mp4"),
        "--quiet",
    )
    assert result.returncode == 1 and "already exists" in result.stderr


def test_incidents_list_shows_the_incident(demo_dir: Path) -> None:
    result = recorder("incidents", "list", "--config", str(demo_dir / "room.toml"), "--json")
    assert result.returncode == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["incident"] for row in rows] == [_incident(demo_dir).stem]
    assert rows[0]["expires_in_days"] > 13.9 and rows[0]["legal_hold"] is False


def test_check_config_accepts_the_demo_config(demo_dir: Path) -> None:
    result = recorder("check-config", str(demo_dir / "room.toml"))
    assert result.returncode == 0 and "OK" in result.stdout


def test_check_config_reports_missing_key_files(tmp_path: Path) -> None:
    config = tmp_path / "room.toml"
    example = Path(__file__).parents[2] / "config" / "room.example.toml"
    config.write_text(example.read_text())
    result = recorder("check-config", str(config))
    assert result.returncode == 2
    assert "control.server_secret_key: file not found" in result.stderr


def test_audit_verify_passes_then_fails_after_an_edit(demo_dir: Path, tmp_path: Path) -> None:
    log = demo_dir / "state" / "audit.jsonl"
    key = demo_dir / "state" / "audit.jsonl.verify-key"
    ok = recorder("audit", "verify", str(log), "--key", str(key))
    assert ok.returncode == 0 and "OK" in ok.stdout
    witness = ok.stdout.split("witness: ")[1].split()[0]
    edited = tmp_path / "audit.jsonl"
    edited.write_text(log.read_text().replace("demo-button", "other-button", 1))
    bad = recorder("audit", "verify", str(edited), "--key", str(key))
    assert bad.returncode == 1 and "edited" in bad.stderr
    truncated = tmp_path / "truncated.jsonl"
    truncated.write_text("".join(log.read_text().splitlines(keepends=True)[:-1]))
    cut = recorder("audit", "verify", str(truncated), "--key", str(key), "--witness", witness)
    assert cut.returncode == 1 and "truncated" in cut.stderr


def test_audit_list_is_readable(demo_dir: Path) -> None:
    result = recorder("audit", "list", str(demo_dir / "state" / "audit.jsonl"))
    assert result.returncode == 0
    assert "incident_started" in result.stdout and 'client="demo-button"' in result.stdout


def test_keygen_refuses_to_overwrite_a_key(tmp_path: Path) -> None:
    assert recorder("keygen", "server", "--dir", str(tmp_path)).returncode == 0
    again = recorder("keygen", "server", "--dir", str(tmp_path))
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr
    assert (tmp_path / "server.key_secret").stat().st_mode & 0o777 == 0o600

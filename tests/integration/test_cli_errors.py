"""No `recorder` or `panic-button` command prints a traceback on any input: one clear line on stderr
and a documented exit code (README, `recorder --help`)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

import panic_button.cli
import recorder.cli
import recorder.daemon
import recorder.keygen
from recorder.audit.log import AuditLog
from recorder.demo import set_up_room
from recorder.incident.age_keys import Identity, write_identity_file
from recorder.incident.age_writer import open_incident_file


@pytest.fixture(autouse=True)
def _logging_left_as_found(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The in-process main() calls here configure structlog for the whole test process: keep them from
    leaving cached, info-filtered loggers behind for later tests (e.g. the router's debug report)."""
    configure = structlog.configure
    monkeypatch.setattr(
        structlog, "configure", lambda **kw: configure(**{**kw, "cache_logger_on_first_use": False})
    )
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Good and bad inputs side by side: an officer's identity, an incident that is an age file of
    something other than Matroska, and files that are empty, binary, text or directories."""
    root = tmp_path_factory.mktemp("inputs")
    identity = Identity.generate()
    write_identity_file(root / "officer.txt", identity)
    with open_incident_file(root / "not-media.age", [identity.recipient]) as writer:
        writer.write(b"no matroska here " * 100)
    (root / "empty").write_bytes(b"")
    (root / "binary").write_bytes(b"\xff\xfe\x00\x01" * 64)
    (root / "text").write_text("hello\n")
    (root / "public.txt").write_text(f"{identity.recipient}\n")
    (root / "deep.toml").write_text("room = " + "[" * 3000 + "]" * 3000)
    (root / "dir").mkdir()
    room = set_up_room(root / "room")
    (room.root / "state").mkdir(mode=0o700)
    AuditLog.create(room.root / "state" / "audit.jsonl", room.root / "state" / "audit.jsonl.verify-key")
    return root


CASES = [  # argv ({} is the inputs directory), exit code, what stderr says
    ("export {}/gone.age --identity {}/officer.txt -o {}/o.mp4", 1, "gone.age: No such file or directory"),
    ("export {}/not-media.age --identity {}/gone.txt -o {}/o.mp4", 1, "gone.txt: No such file or directory"),
    ("export {}/not-media.age --identity {}/binary -o {}/o.mp4", 1, "binary: not an age identity file"),
    ("export {}/not-media.age --identity {}/text -o {}/o.mp4", 1, "not an age identity file: "),
    (
        "export {}/not-media.age --identity {}/public.txt -o {}/o.mp4",
        1,
        "expected uppercase AGE-SECRET-KEY-1",
    ),
    ("export {}/not-media.age --identity {}/empty -o {}/o.mp4", 1, "no identities found"),
    ("export {}/not-media.age --identity {}/dir -o {}/o.mp4", 1, "dir: not an age identity file"),
    ("export {}/not-media.age --identity /dev/zero -o {}/o.mp4", 1, "not a regular file"),
    ("export {}/dir --identity {}/officer.txt -o {}/o.mp4", 1, "dir: Is a directory"),
    ("export {}/empty --identity {}/officer.txt -o {}/o.mp4", 1, "empty: not an age file"),
    ("export {}/binary --identity {}/officer.txt -o {}/o.mp4", 1, "binary: not an age file"),
    ("export {}/not-media.age --identity {}/officer.txt -o {}/o.mp4", 1, "not-media.age: cannot read media"),
    ("export {}/not-media.age --identity {}/officer.txt -o {}/gone/o.mkv", 1, "No such file or directory"),
    ("export {}/not-media.age --identity {}/officer.txt -o {}/o.avi", 1, "must end in .mkv or .mp4"),
    ("check-config {}/gone.toml", 2, "cannot read: No such file or directory"),
    ("check-config {}/dir", 2, "cannot read: Is a directory"),
    ("check-config {}/binary", 2, "not UTF-8 text"),
    ("check-config {}/empty", 2, "room: Field required"),
    ("check-config {}/deep.toml", 2, "nested too deeply"),
    ("run --config {}/text", 2, "not valid TOML"),
    ("incidents list --config {}/binary", 2, "not UTF-8 text"),
    ("purge --config {}/gone.toml", 2, "cannot read"),
    ("hold gone --config {}/room/room.toml --reason test", 1, "'gone' is not an incident id of room"),
    ("keygen server --dir {}/text", 1, "text: Not a directory"),
    ("keygen officer --out {}/dir", 1, "dir: File exists"),
    ("keygen officer --out {}/gone/officer.txt", 1, "No such file or directory"),
    ("audit verify {}/gone.jsonl --key {}/text", 1, "gone.jsonl"),
]


@pytest.mark.parametrize(("argv", "code", "message"), CASES, ids=[case[0].split(" {")[0] for case in CASES])
def test_bad_input_is_one_line_and_a_documented_code(
    files: Path, capsys: pytest.CaptureFixture[str], argv: str, code: int, message: str
) -> None:
    result = recorder.cli.main(argv.replace("{}", str(files)).split())
    err = capsys.readouterr().err
    assert (result, message in err) == (code, True), err
    lines = err.strip().splitlines()
    assert lines[0].startswith("recorder: ") and (len(lines) == 1 or lines[1].startswith("  ")), err


@pytest.mark.parametrize(
    "argv", ["keygen server --dir x --name ../up", "demo --record-seconds nan", "demo --record-seconds -1"]
)
def test_bad_arguments_are_usage_errors(argv: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        recorder.cli.main(argv.split())
    assert exit_info.value.code == 2 and "error: argument" in capsys.readouterr().err


def _boom(*_args: object, **_kwargs: object) -> str:
    raise ZeroDivisionError("boom")


def test_a_bug_is_one_line_asking_for_a_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(recorder.keygen, "create_officer_identity", _boom)
    assert recorder.cli.main(["keygen", "officer", "--out", str(tmp_path / "x")]) == 70
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: ZeroDivisionError: boom" in err and "report" in err


def test_debug_shows_the_traceback_of_a_bug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(recorder.keygen, "create_officer_identity", _boom)
    assert recorder.cli.main(["--debug", "keygen", "officer", "--out", str(tmp_path / "x")]) == 70
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_a_daemon_crash_is_logged_on_one_line_with_where_it_happened(
    files: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(recorder.daemon, "run", _boom)
    assert recorder.cli.main(["run", "--config", str(files / "room" / "room.toml")]) == 70
    out = capsys.readouterr().out
    crash = [line for line in out.splitlines() if "daemon_crashed" in line]
    assert len(crash) == 1 and "_boom" in crash[0] and "Traceback" not in out


def test_ctrl_c_is_exit_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(_path: Path) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(recorder.keygen, "create_officer_identity", interrupted)
    assert recorder.cli.main(["keygen", "officer", "--out", str(tmp_path / "x")]) == 130


def test_panic_button_has_the_same_guard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(panic_button.cli, "_keygen", _boom)
    assert panic_button.cli.main(["keygen", "b1", "--dir", str(tmp_path)]) == 70
    assert capsys.readouterr().err.startswith("panic-button: internal error: ZeroDivisionError: boom")


def test_a_closed_output_pipe_ends_quietly_with_141(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    AuditLog.create(log, tmp_path / "verify-key")
    audit = AuditLog(log)
    for n in range(300):
        audit.append("test_entry", n=n, text="x" * 200)
    audit.close()
    shell = f"{sys.executable} -m recorder audit list {log} | head -1; exit ${{PIPESTATUS[0]}}"
    result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (141, "")
    assert result.stdout.count("\n") == 1


@pytest.mark.skipif(sys.platform != "linux", reason="setpriv")
def test_permission_denied_is_one_line(files: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("AGE-SECRET-KEY-1\n")
    secret.chmod(0o600)
    tmp_path.chmod(0o755)
    result = subprocess.run(
        [
            *(
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                sys.executable,
                "-m",
                "recorder",
            ),
            *("export", str(files / "not-media.age"), "--identity", str(secret), "-o", "/tmp/never.mp4"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (1, f"recorder: {secret}: Permission denied\n")


def test_the_exit_codes_are_in_the_help() -> None:
    from recorder.exit_codes import EPILOG

    assert EPILOG in recorder.cli.build_parser().format_help()
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for code in ("0", "1", "2", "70", "130", "141"):
        assert f"| `{code}` |" in readme

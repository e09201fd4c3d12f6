"""Invariant 1: while idle, no media byte leaves process memory; a trigger makes the daemon write.

The daemon runs under `strace --seccomp-bpf -f -y` (file-creating and file-writing syscalls only,
with the path behind each descriptor) for IDLE_S seconds with no trigger. After start-up it must open
no file for writing, create, rename, truncate or unlink none, create no memfd, and write to no file
but its audit log (this is the system-wide proof: strace sees every path the daemon touches); its
`/proc/<pid>/io` write_bytes must not grow unless it appended to the audit log (a health entry such
as `capture_lost` on a busy machine: metadata, never media), and its state directory, TMPDIR and
HOME (private directories here, so that other processes on the machine don't blur the scan) must
look exactly as before. Then one trigger must show up in every one of these measures, which proves
the measures can see a write.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from panic_button.client import NoContact, RoomClient
from recorder.config import load_config
from recorder.demo import DemoRoom, set_up_room
from tests.support import needs_tools

IDLE_S = float(os.environ.get("RECORDER_IDLE_TEST_S", "60"))
TRACED = ",".join(
    [
        "open",
        "openat",
        "openat2",
        "creat",
        "rename",
        "renameat",
        "renameat2",
        "unlink",
        "unlinkat",
        "memfd_create",
        "truncate",
        "ftruncate",
        "mkdir",
        "mkdirat",
        "link",
        "linkat",
        "symlink",
        "symlinkat",
        "write",
        "writev",
        "pwrite64",
        "pwritev",
        "pwritev2",
    ]
)
_WRITE_FLAGS = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC")
_WRITE_CALL = re.compile(r"\b(write|writev|pwrite64|pwritev|pwritev2)\(\d+<(?P<target>[^>]*)>")
_NOT_A_FILE = ("pipe:", "socket:", "anon_inode:", "/dev/null")

pytestmark = needs_tools("strace")


def _daemon_pid(strace_pid: int) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = Path(f"/proc/{strace_pid}/task/{strace_pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise AssertionError("strace started no daemon")


def _write_bytes(pid: int) -> int:
    fields = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return int(fields["write_bytes"])


def _wchar(pid: int) -> int:
    fields = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return int(fields["wchar"])


def _snapshot(*directories: Path) -> dict[str, tuple[int, int]]:
    files: dict[str, tuple[int, int]] = {}
    for directory in directories:
        for path in directory.rglob("*"):
            try:
                stat = path.lstat()
            except FileNotFoundError:
                continue
            files[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return files


def _file_activity(trace_lines: list[str]) -> list[str]:
    """Syscalls that create, write, rename or remove files (plain read-only opens are fine)."""
    found = []
    for line in trace_lines:
        if "resumed>" in line or "= -1 E" in line:
            continue
        if re.search(r"\b(open|openat|openat2)\(", line):
            if _WRITE_FLAGS.search(line):
                found.append(line)
        elif written := _WRITE_CALL.search(line):
            if not written["target"].startswith(_NOT_A_FILE):
                found.append(line)
        elif re.search(r"\b\w+\(", line):
            found.append(line)
    return found


def _is_audit_append(line: str, audit_files: set[str]) -> bool:
    written = _WRITE_CALL.search(line)
    return written is not None and written["target"] in audit_files


def _without(snapshot: dict[str, tuple[int, int]], names: set[str]) -> dict[str, tuple[int, int]]:
    return {name: value for name, value in snapshot.items() if name not in names}


def _tail(output: list[bytes]) -> str:
    """The daemon's last log lines, to say what it was doing when a check failed."""
    return b"".join(output).decode(errors="replace")[-4000:]


def _wait_until_answering(room: DemoRoom, process: subprocess.Popen[bytes]) -> None:
    client = RoomClient(room.endpoint, room.client_keys, timeout_s=0.5, retries=1)
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            assert process.poll() is None, "daemon exited during start-up"
            try:
                client.status()
                return
            except NoContact:
                time.sleep(0.1)
    finally:
        client.close()
    raise AssertionError("daemon did not answer")


def test_idle_daemon_writes_nothing_and_a_trigger_writes(tmp_path: Path) -> None:
    room = set_up_room(tmp_path / "room", pre_roll_s=3.0, post_roll_s=0.5)
    trace = tmp_path / "strace.log"
    private = {"TMPDIR": tmp_path / "tmp", "HOME": tmp_path / "home"}
    for directory in private.values():
        directory.mkdir()
    process = subprocess.Popen(
        [
            "strace",
            "-f",
            "--seccomp-bpf",
            "-y",
            "-qq",
            "-e",
            f"trace={TRACED}",
            "-o",
            str(trace),
            sys.executable,
            "-m",
            "recorder",
            "run",
            "--config",
            str(room.config),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **{name: str(path) for name, path in private.items()}},
    )  # stdout is a pipe drained in memory, so log lines never touch the disk
    assert process.stdout is not None
    output: list[bytes] = []
    drain = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)  # type: ignore[arg-type]
    drain.start()
    pid = 0
    try:
        _wait_until_answering(room, process)
        pid = _daemon_pid(process.pid)
        time.sleep(2.0)  # start-up done: audit entry written, ring filling
        watched = (room.root / "state", *private.values())
        before_files = _snapshot(*watched)
        state_before = _snapshot(room.root / "state")
        bytes_before, wchar_before = _write_bytes(pid), _wchar(pid)
        lines_before = len(trace.read_text().splitlines())

        client = RoomClient(room.endpoint, room.client_keys)
        deadline = time.monotonic() + IDLE_S
        while time.monotonic() < deadline:  # a staff PC polling status is normal idle traffic
            assert client.status()["state"] == "idle"
            time.sleep(1.0)

        idle_trace = trace.read_text().splitlines()[lines_before:]
        idle_activity = _file_activity(idle_trace)
        audit_log = load_config(room.config).storage.audit_path
        audit_files = {str(audit_log), f"{audit_log}.key"}
        audit_appends = [line for line in idle_activity if _is_audit_append(line, audit_files)]
        assert [line for line in idle_activity if line not in audit_appends] == [], _tail(output)
        if not audit_appends:
            assert _write_bytes(pid) == bytes_before, _tail(output)
        assert _wchar(pid) - wchar_before < 64 * 1024, "only log lines and audit entries may be written"
        unchanged = audit_files if audit_appends else set()
        assert _without(_snapshot(room.root / "state"), unchanged) == _without(state_before, unchanged)
        assert _without(_snapshot(*watched), unchanged) == _without(before_files, unchanged)

        # The same measures do see a write: trigger once.
        client.trigger("prove the test can fail")
        time.sleep(1.5)
        trigger_trace = trace.read_text().splitlines()[lines_before + len(idle_trace) :]
        assert any(".age" in line for line in _file_activity(trigger_trace))
        os.sync()
        assert _write_bytes(pid) > bytes_before
        assert _snapshot(room.root / "state") != state_before
        client.close()
    finally:
        if pid:
            os.kill(pid, signal.SIGTERM)  # the daemon, not strace: strace then exits with it
        else:
            process.kill()
        process.wait(timeout=30)

"""Light fuzzing of the `recorder` command line: random arguments and odd files for each subcommand,
in real processes. Whatever they get, they print no traceback and exit 0, 1 or 2 (recorder/exit_codes.py;
70 would be a bug, anything else a signal or a hang)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fuzz.fixtures import OFFICER, age_file
from recorder.audit.log import AuditLog
from recorder.demo import set_up_room
from recorder.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from recorder.incident.age_keys import write_identity_file

CASES = 32  # about 0.5 s each, two at a time
TIMEOUT_S = 20
F, W, OUT = "{file}", "{word}", "{out}"
TEMPLATES = [
    ["check-config", F],
    ["export", "--identity", F, "-o", OUT, F],
    ["incidents", "list", "--config", F, W],
    ["incidents", "show", "--config", F, W],
    ["purge", "--config", F, "--dry-run"],
    ["hold", "--config", F, "--reason", W, W],
    ["audit", "verify", "--key", F, "--state", F, F],
    ["audit", "verify", "--key", F, "--witness", W, F],
    ["audit", "list", "--key", F, W, F],
    ["audit", "check", F, W],
    ["audit", "report", "--key", F, "-o", OUT, F],
    ["keygen", W, W, F],
    [W, W, F],
]
WORDS = [
    "",
    "-",
    "--",
    "--json",
    "--since",
    "2026-13-45",
    "0:" + "0" * 64,
    "-1",
    "x" * 5000,
    "../../etc/passwd",
    "20260101T000000Z-ab12",
    "\u202eevil",
    "nan",
    "1e999",
    "officer",
    "server",
    "--format=csv",
    "é",
]


def _odd_files(root: Path) -> list[Path]:
    room = set_up_room(root / "room")
    (room.root / "state").mkdir(mode=0o700)
    log = room.root / "state" / "audit.jsonl"
    AuditLog.create(log, root / "verify-key")
    AuditLog(log).append("daemon_started", room="x")
    write_identity_file(root / "officer.txt", OFFICER)
    files = {
        "empty": b"",
        "binary": bytes(range(256)) * 4,
        "deep.json": b"[" * 100_000 + b"]" * 100_000 + b"\n",
        "deep-entry.jsonl": b'{"v":2,"data":' + b"[" * 5000 + b"]" * 5000 + b"}\n",
        "latin1.toml": "room = 'caf\xe9'\n".encode("latin-1"),
        "incident.age": age_file(b"not matroska" * 50),
        "cut.jsonl": log.read_bytes()[:-20],
        "state-far.key": b"9" * 20 + b" " + b"ab" * 32 + b" " + b"cd" * 32 + b" " + b"0" * 20 + b"\n",
        "bad-name-\xff.toml".encode(): b"room = 1\n",
    }
    paths = []
    for name, content in files.items():
        path = root / os.fsdecode(name)
        path.write_bytes(content)
        paths.append(path)
    (root / "dir").mkdir()
    return [
        *paths,
        root / "dir",
        root / "gone",
        Path("/dev/null"),
        room.config,
        log,
        root / "verify-key",
        root / "officer.txt",
        Path(f"{log}.key"),
    ]


def _argv(rng: random.Random, files: list[Path], out: Path) -> list[str]:
    slots = {F: lambda: str(rng.choice(files)), W: lambda: rng.choice(WORDS), OUT: lambda: str(out)}
    argv = [slots[token]() if token in slots else token for token in rng.choice(TEMPLATES)]
    rng.shuffle(argv) if rng.random() < 0.15 else None  # now and then, everything out of order
    return argv


@pytest.mark.slow
def test_random_arguments_and_odd_files_get_a_documented_exit_and_no_traceback(tmp_path: Path) -> None:
    files = _odd_files(tmp_path)
    rng = random.Random(20261202)  # fixed: the same cases on every run
    cases = [_argv(rng, files, tmp_path / f"out-{n}.mp4") for n in range(CASES)]
    log, key = tmp_path / "room" / "state" / "audit.jsonl", tmp_path / "verify-key"
    cases += [  # inputs that once failed (a state file far beyond its log hung the verifier)
        ["audit", "verify", "--key", str(key), "--state", str(tmp_path / "state-far.key"), str(log)],
        ["audit", "list", "--key", str(key), str(tmp_path / "deep-entry.jsonl")],
    ]
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("ROOM_RECORDER_DEBUG", None)

    def run(argv: list[str]) -> tuple[list[str], int, str]:
        command = [sys.executable, "-m", "recorder", *argv]
        done = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, timeout=TIMEOUT_S, check=False
        )
        return argv, done.returncode, done.stderr.decode(errors="replace")

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, cases))
    bad = [
        (argv, code, err[-400:])
        for argv, code, err in results
        if code not in (EXIT_OK, EXIT_FAILED, EXIT_USAGE) or "Traceback" in err
    ]
    assert not bad, bad

"""A throwaway Debian 12 root booted under a real systemd (systemd-nspawn), and the technician guide's
command blocks (docs/deploy.md, `<!-- step: NAME -->`) that the container runs."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).parents[2]
GUIDE = REPO / "docs" / "deploy.md"
CACHE = Path(os.environ.get("ROOM_RECORDER_TEST_CACHE", "/var/cache/room-recorder-test"))
SUITE = "bookworm"
BASE_PACKAGES = [
    "systemd",
    "systemd-sysv",
    "dbus",
    "procps",
]  # what any Debian 12 box has (minbase lacks procps)
SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
_STEP = re.compile(r"<!-- step: ([\w-]+) -->\s*\n```sh\n(.*?)```", re.S)


def guide_steps() -> dict[str, str]:
    """The guide's marked command blocks, by step name, in the guide's order."""
    return dict(_STEP.findall(GUIDE.read_text()))


def guide_packages() -> list[str]:
    """The Debian packages the guide's `packages` step installs."""
    match = re.search(r"apt-get install -y (.+)", guide_steps()["packages"])
    assert match, "the guide's packages step has no apt-get install line"
    return match.group(1).split()


def cached_root() -> tuple[Path, float]:
    """The root for the guide's package list, built once (mmdebstrap) and kept under CACHE, keyed by a
    hash of what goes into it. Returns it and the seconds spent building (0 when cached)."""
    packages = sorted({*BASE_PACKAGES, *guide_packages()})
    recipe = json.dumps([SUITE, "minbase", packages, SOURCES.read_text()])
    root = CACHE / f"root-{hashlib.sha256(recipe.encode()).hexdigest()[:16]}"
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; a second run waits and reuses it
        if root.is_dir():
            return root, 0.0
        for stale in CACHE.glob("root-*"):  # roots of older package lists
            shutil.rmtree(stale, ignore_errors=True)
        building = root.with_name(root.name + ".building")
        shutil.rmtree(building, ignore_errors=True)
        started = time.monotonic()
        with SOURCES.open() as sources:
            subprocess.run(
                [
                    "mmdebstrap",
                    "--quiet",
                    "--variant=minbase",
                    f"--include={','.join(packages)}",
                    SUITE,
                    str(building),
                ],
                stdin=sources,
                check=True,
                capture_output=True,
            )
        building.rename(root)
        return root, time.monotonic() - started


def boot(root: Path, binds: dict[Path, str], unit: str, console: Path, timeout_s: float) -> int:
    """Boot `root` with `unit` wanted, until it powers off; returns nspawn's exit code.

    The root stays pristine (`--volatile=overlay`: writes go to a tmpfs); the container has its own
    loopback only (`--private-network`); `/run/systemd/nspawn` gets a tmpfs in a private mount
    namespace (nspawn insists on cleaning it), so no mount outlives the run. nspawn needs a terminal,
    which `script` gives it. nspawn withholds CAP_IPC_LOCK (and with it mlock) by default; it is
    granted, as a booted box has it, so that the unit's AmbientCapabilities=CAP_IPC_LOCK is tested
    (this machine cannot raise RLIMIT_MEMLOCK, so LimitMEMLOCK=infinity cannot be). On a time-out
    the whole process group is killed.
    """
    Path("/run/systemd/nspawn").mkdir(parents=True, exist_ok=True)
    nspawn = [
        "systemd-nspawn", "-q", "-D", str(root), "-b", "--register=no", "--keep-unit",
        "--volatile=overlay", "--private-network", "--capability=CAP_IPC_LOCK",
        *(f"--bind{'-ro' if mode == 'ro' else ''}={host}:{inside}" for host, (inside, mode) in _split(binds)),
        "--", f"systemd.wants={unit}",
    ]  # fmt: skip
    shell = f"mount -t tmpfs tmpfs /run/systemd/nspawn && exec script -qec '{' '.join(nspawn)}' {console}"
    process = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", shell],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise


def _split(binds: dict[Path, str]) -> list[tuple[Path, tuple[str, str]]]:
    """`{host: "/inside"}` or `{host: "/inside:ro"}` → (host, (inside, mode))."""
    return [
        (host, (spec.removesuffix(":ro"), "ro" if spec.endswith(":ro") else "rw"))
        for host, spec in binds.items()
    ]

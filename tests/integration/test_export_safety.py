"""`recorder export` leaves no plaintext behind: the output is 0600, and a signal during decryption or
transcoding (or SIGKILL during decryption) leaves nothing in the output's directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from recorder.incident.age_keys import Identity, write_identity_file
from recorder.incident.age_writer import open_incident_file
from recorder.incident.matroska import MatroskaMuxer, VideoParams
from recorder.packet import Packet, StreamKind
from recorder.sources.test_pattern import TestPatternConfig, frames_from
from recorder.sources.test_tone import TestToneConfig, blocks_from

PATTERN = TestPatternConfig(width=320, height=240, fps=15.0)
SECONDS = 60  # long enough that transcoding it takes a few seconds


def _packets() -> Iterator[Packet]:
    """A minute of one repeated frame and the test tone (quick to make, as slow to transcode as any)."""
    frame = next(frames_from(PATTERN, 0, 1))
    video = [
        Packet(StreamKind.VIDEO, round(n * 1e9 / PATTERN.fps), 0.0, n, frame.payload, 320, 240)
        for n in range(int(SECONDS * PATTERN.fps))
    ]
    audio = blocks_from(TestToneConfig(), 0, SECONDS * 50)
    return iter(sorted([*video, *audio], key=lambda p: (p.pts_ns, p.stream.value)))


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("incident")
    identity = Identity.generate()
    write_identity_file(root / "officer.txt", identity)
    with open_incident_file(root / "incident.age", [identity.recipient]) as age:
        muxer = MatroskaMuxer(age, VideoParams(320, 240, PATTERN.fps), audio=True, t0_ns=0)
        for packet in _packets():
            muxer.write(packet)
        muxer.close()
    return root / "incident.age", root / "officer.txt"


def export(incident: Path, identity: Path, output: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "recorder", "export", str(incident)),
            *("--identity", str(identity), "-o", str(output), "--quiet"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _process_state(pid: int) -> str:
    """The state letter in /proc/PID/stat (R running, S sleeping, T stopped, ...)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def wait_until(predicate: object, what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.001)
    raise AssertionError(f"timed out waiting for {what}")


def plaintext_bytes(pid: int, directory: Path) -> int:
    """Bytes in the files under `directory` that process `pid` has open (named or not)."""
    total = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(f"{directory}/"):
                total += os.stat(f"/proc/{pid}/fd/{fd}").st_size
        except FileNotFoundError:
            pass
    return total


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_the_export_is_readable_by_its_owner_only(
    incident: tuple[Path, Path], tmp_path: Path, suffix: str
) -> None:
    output = tmp_path / f"out{suffix}"
    process = export(*incident, output)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert output.stat().st_mode & 0o777 == 0o600
    assert sorted(tmp_path.iterdir()) == [output]


@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130), (signal.SIGKILL, -9)],
)
def test_a_signal_during_decryption_leaves_no_plaintext(
    incident: tuple[Path, Path], tmp_path: Path, signum: int, code: int
) -> None:
    """The incident comes through a FIFO, so the signal lands while decryption is half done."""
    source, identity = incident
    fifo, out_dir = tmp_path / "incident.age", tmp_path / "out"
    os.mkfifo(fifo)
    out_dir.mkdir()
    process = export(fifo, identity, out_dir / "out.mkv")
    data = source.read_bytes()
    with open(fifo, "wb") as feed:
        feed.write(data[: 4 * 65536])
        feed.flush()
        wait_until(lambda: plaintext_bytes(process.pid, out_dir) > 0, "the first decrypted chunk")
        os.kill(process.pid, signum)
        _, err = process.communicate(timeout=30)
    assert process.returncode == code, err
    assert list(out_dir.iterdir()) == []
    assert "Traceback" not in err


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_during_transcoding_removes_the_partial_output(
    incident: tuple[Path, Path], tmp_path: Path, signum: int, code: int
) -> None:
    output = tmp_path / "out.mp4"
    process = export(*incident, output)
    part = tmp_path / "out.mp4.part"
    wait_until(lambda: part.exists() and part.stat().st_size > 0, "the partial MP4")
    os.kill(process.pid, signal.SIGSTOP)  # hold it mid-transcode, however busy the machine is
    wait_until(lambda: _process_state(process.pid) == "T", "the exporter stopped")  # kill() is asynchronous
    assert not output.exists(), "the export finished before the signal could be sent"
    os.kill(process.pid, signum)  # pending until it runs again
    os.kill(process.pid, signal.SIGCONT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == code, (out, err, sorted(tmp_path.iterdir()))
    assert f"stopped by {signal.Signals(signum).name}" in err
    assert list(tmp_path.iterdir()) == []

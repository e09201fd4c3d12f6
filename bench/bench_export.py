"""Export of a camera-sized incident to MKV (stream copy) and MP4 (H.264 + AAC) vs ffmpeg on the same file."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import recorder.incident.mp4 as mp4
from bench.camera_farm import clip_frames, make_clip
from bench.figures import Context, Figure, Section, Table
from recorder.incident.age_keys import Identity, write_identity_file
from recorder.incident.age_writer import open_incident_file
from recorder.incident.export import export
from recorder.incident.matroska import VideoParams
from recorder.incident.output import AgeMatroskaOutput
from recorder.packet import Packet, StreamKind
from recorder.sources.test_tone import TestToneConfig, blocks_from

T0 = 1_000_000_000
FFMPEG = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
PRESETS = ("superfast", "veryfast", "faster")


def make_incident(work: Path, media_s: float) -> tuple[Path, Path, Path]:
    """An incident as the daemon writes it (camera JPEGs + test tone → Matroska → age), and its
    stock `age -d` decryption. Returns (incident.age, officer identity, decrypted .mkv)."""
    frames = clip_frames(make_clip(work / "camera.mkv"))
    video = [
        Packet(StreamKind.VIDEO, T0 + round(n * 1e9 / 15), 0.0, n, frames[n % len(frames)], 1280, 720)
        for n in range(round(media_s * 15))
    ]
    audio = list(blocks_from(TestToneConfig(), T0, round(media_s * 50)))
    identity = Identity.generate()
    officer, age_path, mkv = work / "officer.txt", work / "incident.age", work / "incident.mkv"
    write_identity_file(officer, identity)
    output = AgeMatroskaOutput(
        open_incident_file(age_path, [identity.recipient]), VideoParams(1280, 720, 15.0), True
    )
    for packet in sorted(video + audio, key=lambda p: p.pts_ns):
        output.write(packet)
    output.close()
    subprocess.run(["age", "-d", "-i", str(officer), "-o", str(mkv), str(age_path)], check=True)
    return age_path, officer, mkv


def _timed(action: object) -> float:
    start = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - start


def _run(args: list[str]) -> None:
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _age_then_ffmpeg(age_path: Path, officer: Path, out: Path) -> None:
    plain = out / "cli-plain.mkv"
    _run(["age", "-d", "-i", str(officer), "-o", str(plain), str(age_path)])
    _run([*FFMPEG, "-i", str(plain), "-c", "copy", str(out / "cli-ffmpeg.mkv")])
    plain.unlink()


def _recorder_export(age_path: Path, officer: Path, dst: Path) -> None:
    dst.unlink(missing_ok=True)
    _run(
        [
            sys.executable,
            "-m",
            "recorder",
            "export",
            str(age_path),
            "--identity",
            str(officer),
            "-o",
            str(dst),
        ]
    )


def ffmpeg_mp4(src: Path, dst: Path, preset: str = "veryfast") -> list[str]:
    """What a user would type for the same job: the same codecs, quality and audio bit rate."""
    return [*FFMPEG, "-i", str(src), "-c:v", "libx264", "-preset", preset, "-crf", "23",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", str(dst)]  # fmt: skip


def quality(encoded: Path, original: Path) -> tuple[float, float]:
    """(SSIM of Y, average PSNR in dB) of every frame of `encoded` against `original`, by ffmpeg."""
    graph = "[0:v][1:v]ssim;[0:v][1:v]psnr"
    err = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-i", str(encoded), "-i", str(original), "-lavfi", graph,
         "-f", "null", "-"], capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    ssim = re.search(r"SSIM Y:([\d.]+)", err)
    psnr = re.search(r"PSNR .*average:([\d.]+)", err)
    return float(ssim.group(1)) if ssim else float("nan"), float(psnr.group(1)) if psnr else float("nan")


def _export(src: Path, dst: Path) -> None:
    dst.unlink(missing_ok=True)
    export(src, dst)


def measure(ctx: Context) -> Section:
    media_s = 4.0 if ctx.quick else 90.0
    ctx.log(f"export: writing a {media_s:g} s camera-sized incident")
    out = ctx.work / "export"
    out.mkdir()
    age_path, officer, mkv = make_incident(out, media_s)
    section = Section(
        "export",
        "Export: MKV stream copy and MP4 (H.264 + AAC) against ffmpeg",
        f"A {media_s:g} s incident of camera-sized frames (1280×720@15, ~60 KB JPEGs of a noisy "
        f"test picture) and the 48 kHz test tone ({mkv.stat().st_size / 1e6:.0f} MB), written as the "
        "daemon writes it and decrypted with stock `age -d`. Ours: `recorder.incident.export.export()` "
        "in-process; ffmpeg: the command line a user would type, on the same decrypted file (its times "
        "include starting ffmpeg). The CLI rows time `recorder export` on the .age against `age -d` "
        "then `ffmpeg -c copy`.",
    )
    copy, ours_mkv, cli, cli_base, ff_mp4, ours_mp4 = ([] for _ in range(6))
    for i in range(ctx.runs):
        ctx.log(f"export: run {i + 1}/{ctx.runs}")
        copy.append(_timed(lambda: _run([*FFMPEG, "-i", str(mkv), "-c", "copy", str(out / "ffmpeg.mkv")])))
        ours_mkv.append(_timed(lambda: _export(mkv, out / "ours.mkv")))
        cli_base.append(_timed(lambda: _age_then_ffmpeg(age_path, officer, out)))
        cli.append(_timed(lambda: _recorder_export(age_path, officer, out / "cli.mkv")))
        ff_mp4.append(media_s / _timed(lambda: _run(ffmpeg_mp4(mkv, out / "ffmpeg.mp4"))))
        ours_mp4.append(media_s / _timed(lambda: _export(mkv, out / "ours.mp4")))
    section.add(Figure("ffmpeg_copy", "`ffmpeg -c copy` of the decrypted file", "s", copy, digits=3))
    section.add(
        Figure("mkv", "ours: export to .mkv (stream copy)", "s", ours_mkv, "ffmpeg_copy", "≤ 1.5×", 3)
    )
    section.add(Figure("cli_base", "`age -d` then `ffmpeg -c copy` (two commands)", "s", cli_base, digits=3))
    section.add(
        Figure(
            "cli", "`recorder export INCIDENT.age -o out.mkv` (one command)", "s", cli, "cli_base", "≤ 1.5×"
        )
    )
    section.add(Figure("ffmpeg_mp4", "ffmpeg `-preset veryfast -crf 23`, AAC 96k", "× real time", ff_mp4))
    section.add(Figure("mp4", "ours: export to .mp4", "× real time", ours_mp4, "ffmpeg_mp4", "value ≥ 5"))
    ssim, psnr = quality(out / "ours.mp4", mkv)
    size = (out / "ours.mp4").stat().st_size / 1e6
    section.notes.append(
        f"Our MP4 against the incident's JPEGs: SSIM (Y) {ssim:.4f}, PSNR {psnr:.1f} dB, {size:.1f} MB "
        f"({size * 8 / media_s:.1f} Mbit/s); same size and frame rate as the incident, every frame kept."
    )
    if not ctx.quick:
        section.tables.append(preset_table(mkv, out, media_s))
    return section


def preset_table(mkv: Path, out: Path, media_s: float) -> Table:
    """Our export with other x264 presets (one run each): speed against what it keeps."""
    rows = []
    default = dict(mp4.X264_OPTIONS)
    try:
        for preset in PRESETS:
            mp4.X264_OPTIONS = {**default, "preset": preset}
            dst = out / f"preset-{preset}.mp4"
            speed = media_s / _timed(lambda dst=dst: _export(mkv, dst))  # type: ignore[misc]
            ssim, psnr = quality(dst, mkv)
            name = f"`{preset}`" + (" (ours)" if preset == default["preset"] else "")
            size = f"{dst.stat().st_size / 1e6:.1f}"
            rows.append([name, f"{speed:.2f}", f"{ssim:.4f}", f"{psnr:.1f}", size])
    finally:
        mp4.X264_OPTIONS = default
    return Table(
        "x264 presets at CRF 23, our export, one run each",
        ["preset", "× real time", "SSIM (Y)", "PSNR dB", "MB"],
        rows,
    )

"""`bench/run`: run every benchmark module, then write the results page with its plots."""

from __future__ import annotations

import argparse
import datetime
import importlib
import logging
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import structlog

from bench.camera_farm import make_clip
from bench.figures import Context, Section, section_from_dict
from bench.procfs import load_average
from bench.report import Ran, machine, render_page, write_json

MODULES = {
    "encode": "bench.bench_encode",
    "passthrough": "bench.bench_passthrough",
    "latency": "bench.bench_latency",
    "preroll": "bench.bench_preroll",
    "memory": "bench.bench_memory",
    "export": "bench.bench_export",
    "audit": "bench.bench_audit",  # written by another engineer: run when present
    "rooms": "bench.bench_rooms",
    "soak": "bench.bench_soak",
    "av_drift": "bench.bench_av_drift",
    "vault": "bench.bench_vault",
}
LONG = {"soak": "--soak", "av_drift": "--av-drift"}  # run only when given a duration
OPTIONAL = {"audit"}
QUICK_SOAK_S = 6.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description="Run the benchmarks and write a results page (docs/benchmarks.md by default).",
        epilog="A full run takes about 30 minutes on 2 cores, plus --soak and --av-drift. Run it on a "
        "quiet machine: other work on it widens every range.",
    )
    parser.add_argument("--quick", action="store_true", help="CI smoke: tiny sizes, one run, every figure")
    parser.add_argument(
        "--runs", type=int, default=3, help="repeats of each repeated measurement (default 3)"
    )
    parser.add_argument(
        "--soak", type=float, default=0.0, metavar="SECONDS", help="also soak one room this long (e.g. 3600)"
    )
    parser.add_argument(
        "--av-drift",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="also record a camera and a microphone this long and measure A/V drift (e.g. 600)",
    )
    parser.add_argument("--only", default="", help=f"comma-separated modules: {','.join(MODULES)}")
    parser.add_argument("--out", type=Path, default=None, help="the page to write (PNGs go beside it)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (rooms, incidents)")
    args = parser.parse_args(argv)
    only = [name for name in args.only.split(",") if name]
    unknown = sorted(set(only) - set(MODULES))
    if unknown:
        parser.error(f"unknown module(s): {', '.join(unknown)}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    for name, flag in LONG.items():
        if name in only and not getattr(args, flag[2:].replace("-", "_")) and not args.quick:
            parser.error(f"--only {name} needs {flag} SECONDS")
    args.only = only
    if args.out is None:
        partial = args.quick or only
        args.out = Path("build/bench-quick/benchmarks.md" if partial else "docs/benchmarks.md")
    return args


def selected(args: argparse.Namespace) -> list[str]:
    """Every module, or those of --only; the long ones only when given a duration."""
    durations = {"soak": args.soak or (QUICK_SOAK_S if args.quick else 0.0), "av_drift": args.av_drift}
    names = args.only or list(MODULES)
    return [n for n in names if n not in LONG or durations[n]]


def load(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(MODULES[name])
    except ModuleNotFoundError as error:
        if name in OPTIONAL and error.name == MODULES[name]:
            return None
        raise


def run_one(name: str, module: ModuleType, ctx: Context) -> Section:
    """A module's `measure(ctx)` returns a Section; a module with only `main()` returns a dict."""
    if hasattr(module, "measure"):
        section: Section = module.measure(ctx)
        return section
    title = (module.__doc__ or name).strip().splitlines()[0].rstrip(".")
    return section_from_dict(name, title, module.main())


def _present(name: str, ctx: Context) -> bool:
    if load(name) is None:
        ctx.log(f"{name}: {MODULES[name]} is not present, skipped")
        return False
    return True


def _run(name: str, ctx: Context) -> Ran:
    """Run one module; an exception is reported as the module having failed (traceback in a file)."""
    module = load(name)
    assert module is not None
    ctx.log(f"{name}: starting (load {load_average()})")
    before, started = load_average(), time.monotonic()
    try:
        section, error = run_one(name, module, ctx), ""
    except Exception as exc:  # the runner's top: report the module as failed, run the others
        section, error = Section(name, name), f"{type(exc).__name__}: {exc}"
        (ctx.work / f"{name}.error.txt").write_text(traceback.format_exc())
        ctx.log(f"{name}: FAILED: {error} (traceback in {ctx.work / f'{name}.error.txt'})")
    ran = Ran(section, time.monotonic() - started, before, load_average(), error)
    ctx.log(f"{name}: done in {ran.seconds:.0f} s")
    return ran


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    out: Path = args.out
    plots = out.parent / out.stem
    if plots.exists():
        shutil.rmtree(plots)
    plots.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    runs = 1 if args.quick else args.runs
    soak_s = args.soak or (QUICK_SOAK_S if args.quick else 0.0)
    ctx = Context(args.quick, runs, work, plots, soak_s, args.av_drift)
    header = {"date": datetime.date.today().isoformat(), **machine()}
    command = shlex.join(["bench/run", *(argv if argv is not None else sys.argv[1:])])
    make_clip(work / "camera.mkv")  # shared by the modules that need camera-sized frames
    names = [n for n in selected(args) if _present(n, ctx)]
    if args.quick:  # nothing is measured for real: run side by side to finish sooner
        with ThreadPoolExecutor(max_workers=len(names) or 1) as pool:
            done = list(pool.map(lambda name: _run(name, ctx), names))
    else:
        done = [_run(name, ctx) for name in names]
    out.write_text(render_page(done, dict(header), command, plots.name))
    write_json(plots / "results.json", done, header, command)
    ctx.log(f"wrote {out} and {plots}/")
    if args.keep or any(ran.error for ran in done):
        ctx.log(f"scratch kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if any(ran.error for ran in done) else 0


if __name__ == "__main__":
    sys.exit(main())

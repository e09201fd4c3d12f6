"""`python -m fuzz`: fuzz every surface that reads untrusted bytes; exit 1 if any input broke a contract.

python -m fuzz                       # the full run: 100,000 inputs per target (docs/reliability.md)
python -m fuzz --inputs 2000 --targets audit,control
python -m fuzz --replay FILE         # run one saved input again (its directory names the target)
python -m fuzz --list                # the targets and what each one fuzzes
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fuzz.contract import remove_scratch
from fuzz.replay import limit_memory, replay, target_of
from fuzz.runner import Budget, Totals, run_target
from fuzz.targets import TARGETS, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fuzz", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inputs", type=int, default=100_000, help="inputs per target (default 100,000)")
    parser.add_argument("--targets", default=",".join(TARGETS), help=f"comma-separated: {','.join(TARGETS)}")
    parser.add_argument("--timeout", type=int, default=10, help="seconds one input may take (a hang)")
    parser.add_argument("--rss-limit-mb", type=int, default=1024, help="memory a target may use")
    parser.add_argument("--seed", type=int, default=0, help="libFuzzer's seed (0: a new one each run)")
    parser.add_argument("--max-len", type=int, default=8192, help="longest input to try, in bytes")
    parser.add_argument("--out", type=Path, default=Path("fuzz-out"), help="corpus, crashes and logs")
    parser.add_argument("--replay", type=Path, nargs="+", metavar="FILE", help="run saved inputs again")
    parser.add_argument("--target", help="the target of --replay (default: the file's directory name)")
    parser.add_argument("--list", action="store_true", help="list the targets and what each one fuzzes")
    args = parser.parse_args(argv)
    if args.list:
        for name in TARGETS:
            print(f"{name:<12} {load(name).SURFACE}")
        return 0
    if args.replay:
        limit_memory(args.rss_limit_mb)
        return _replay(args.replay, args.target, args.timeout)
    names = [name.strip() for name in args.targets.split(",") if name.strip()]
    unknown = sorted(set(names) - set(TARGETS))
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; choose from {', '.join(TARGETS)}")
    budget = Budget(args.inputs, args.timeout, args.rss_limit_mb, args.seed, args.max_len)
    print(f"{'target':<12} {'inputs':>9} {'crashes':>7} {'hangs':>5} {'seconds':>8} {'edges':>6}", flush=True)
    try:
        results = [_report(run_target(name, budget, args.out)) for name in names]
    finally:
        remove_scratch()  # the seeds' files
    total = sum(r.inputs for r in results)
    print(
        f"{'total':<12} {total:>9} {sum(r.crashes for r in results):>7} {sum(r.hangs for r in results):>5} "
        f"{sum(r.seconds for r in results):>8.1f}"
    )
    return 0 if all(r.ok for r in results) else 1


def _report(totals: Totals) -> Totals:
    print(
        f"{totals.target:<12} {totals.inputs:>9} {totals.crashes:>7} {totals.hangs:>5} "
        f"{totals.seconds:>8.1f} {totals.edges:>6}",
        flush=True,
    )
    for path in totals.artifacts:
        print(f"  saved {path}  (replay: python -m fuzz --replay {path})", flush=True)
    if not totals.ok:
        print(f"  see {totals.log} (exit code {totals.exit_code})", flush=True)
    return totals


def _replay(paths: list[Path], target: str | None, timeout_s: int) -> int:
    failed = 0
    try:
        for path in paths:
            name = target or target_of(path)
            if name not in TARGETS:
                print(f"python -m fuzz: no fuzz target {name!r} for {path}; use --target", file=sys.stderr)
                return 2
            outcome = replay(name, path, timeout_s)
            print(f"{path}: {'ok' if outcome.ok else 'FAILED'}")
            if not outcome.ok:
                failed += 1
                print(outcome.failure, file=sys.stderr)
    finally:
        remove_scratch()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""One target under atheris, in its own process: `python -m fuzz.worker TARGET [libFuzzer flags] DIRS`.
Started by `python -m fuzz`; the package's own code is instrumented for coverage as it is imported."""

from __future__ import annotations

import sys

import atheris

from fuzz.replay import limit_memory
from fuzz.targets import load

INSTRUMENTED = ["recorder", "panic_button", "fuzz.targets"]


def main(argv: list[str]) -> None:
    for flag in argv:
        if flag.startswith("-rss_limit_mb="):  # libFuzzer only looks once a second; fail the allocation
            limit_memory(int(flag.split("=", 1)[1]))
    with atheris.instrument_imports(include=INSTRUMENTED):
        target = load(argv[1])
    atheris.Setup([argv[0], *argv[2:]], target.one_input)
    atheris.Fuzz()  # exits the process when done


if __name__ == "__main__":
    main(sys.argv)

"""What a benchmark module hands the runner: figures (values over runs, each against a baseline of the
same run), tables, plots and notes; and the context it runs in."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Figure:
    """One measured quantity, one value per run. `baseline` names the figure of the same section
    (and the same run) it is divided by; `goal` is a target for that ratio (or for the value when
    there is no baseline), shown on the page and never enforced."""

    key: str
    label: str
    unit: str
    values: list[float]
    baseline: str | None = None
    goal: str = ""
    digits: int = 2

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def low(self) -> float:
        return min(self.values) if self.values else float("nan")

    @property
    def high(self) -> float:
        return max(self.values) if self.values else float("nan")


@dataclass
class Table:
    """A table for what figures do not fit (e.g. one row per number of rooms)."""

    title: str
    header: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    """One benchmark's results, in the order they appear on the page."""

    key: str
    title: str
    method: str = ""
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def figure(self, key: str) -> Figure:
        """Raises KeyError for an unknown key."""
        for figure in self.figures:
            if figure.key == key:
                return figure
        raise KeyError(key)

    def ratio(self, figure: Figure) -> list[float]:
        """Each run's value over its baseline's value in the same run ([] without a baseline)."""
        if figure.baseline is None:
            return []
        base = self.figure(figure.baseline).values
        return [v / b for v, b in zip(figure.values, base, strict=False) if b]


@dataclass
class Context:
    """How a module should run: `quick` is the CI smoke mode (tiny sizes, one run, figures only
    need to exist); `runs` how many times to repeat what is repeated; `work` a private scratch
    directory; `plots` where PNGs go (shown on the page); `soak_s`, `av_drift_s` how long the
    opt-in long runs last."""

    quick: bool
    runs: int
    work: Path
    plots: Path
    soak_s: float = 0.0
    av_drift_s: float = 0.0

    def log(self, message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)


def section_from_dict(key: str, title: str, result: Mapping[str, Any]) -> Section:
    """A section from a module that returns a plain dict (see bench/README.md): name → a number, a
    list of numbers (one per run), or {"values"|"value", "unit", "label", "baseline", "goal"}."""
    section = Section(key, title)
    for name, value in result.items():
        if isinstance(value, Mapping):
            values = value.get("values", [value.get("value", float("nan"))])
            section.add(
                Figure(
                    name,
                    str(value.get("label", name)),
                    str(value.get("unit", "")),
                    [float(v) for v in values],
                    value.get("baseline"),
                    str(value.get("goal", "")),
                )
            )
        elif isinstance(value, int | float):
            section.add(Figure(name, name, "", [float(value)]))
        elif isinstance(value, list | tuple) and all(isinstance(v, int | float) for v in value):
            section.add(Figure(name, name, "", [float(v) for v in value]))
        else:
            section.notes.append(f"{name}: {value}")
    return section

"""PNG plots for the results page (matplotlib, the `bench` extra; imported only here, only when plotting)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

Series = Mapping[str, Sequence[float]]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def latency_cdf(path: Path, title: str, samples_ms: Series) -> Path:
    """Cumulative distribution of each scenario's latencies, log-scaled ms on x."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=100)
    for label, values in samples_ms.items():
        ordered = sorted(values)
        if not ordered:
            continue
        share = [(i + 1) / len(ordered) for i in range(len(ordered))]
        ax.step(ordered, share, where="post", label=f"{label} (n={len(ordered)})")
    ax.set_xscale("log")
    ax.set_xlabel("latency, ms (log scale)")
    ax.set_ylabel("share of requests ≤ x")
    ax.axhline(0.99, color="grey", linewidth=0.5, linestyle=":")
    ax.set_title(title)
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def time_series(path: Path, title: str, t_s: Sequence[float], panels: Sequence[tuple[str, Series]]) -> Path:
    """One panel per quantity over the same time axis (e.g. RSS, CPU, fds over a soak)."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 1.9 * len(panels) + 0.6), dpi=100, sharex=True)
    for ax, (ylabel, series) in zip(axes if len(panels) > 1 else [axes], panels, strict=True):
        for label, values in series.items():
            ax.plot(t_s[: len(values)], values, label=label, linewidth=1)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.grid(True, linewidth=0.3)
        if len(series) > 1:
            ax.legend(fontsize=7, loc="upper left")
    (axes[-1] if len(panels) > 1 else axes).set_xlabel("time since start, s")
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def curve(
    path: Path, title: str, x: Sequence[float], panels: Sequence[tuple[str, Series, float | None]]
) -> Path:
    """Quantities against x (e.g. rooms per box), one panel each, with an optional limit line."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 3.2), dpi=100)
    for ax, (ylabel, series, limit) in zip(axes if len(panels) > 1 else [axes], panels, strict=True):
        for label, values in series.items():
            ax.plot(x[: len(values)], values, marker="o", label=label, linewidth=1)
        if limit is not None:
            ax.axhline(limit, color="red", linewidth=0.8, linestyle="--", label="limit")
        ax.set_xlabel("rooms on the box", fontsize=8)
        ax.set_ylim(bottom=0)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.grid(True, linewidth=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path

"""How the desk lays out N rooms on a window of WxH pixels: the largest tiles that fit, in columns.

Pure. Font sizes are in pixels (Tk's negative sizes), so a tile's height hardly depends on the screen;
the view measures a tile of each density with Tk and passes the heights in (the estimates below are
only the defaults). tests/integration/test_frontends_desk.py checks 40 rooms on 1280x800 and 1920x1080.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

HEADER_H = 40  # the summary line
FOOTER_H = 56  # the key hint, or the question for a justification (two lines)
MARGIN = 8


@dataclass(frozen=True)
class Density:
    name: str
    tile_h: int  # pixels, including the gap between tiles (an estimate: see choose)
    min_tile_w: int
    state_px: int  # font sizes
    name_px: int
    detail_px: int
    button_px: int
    two_lines: bool  # the headline keeps its two lines ("ALARM CONFIRMED / RECORDING")


DENSITIES = (
    Density("large", 90, 880, 24, 20, 13, 22, True),
    Density("medium", 50, 560, 17, 16, 12, 15, False),
    Density("compact", 34, 520, 12, 12, 10, 12, False),
)


@dataclass(frozen=True)
class Layout:
    density: Density
    columns: int
    rows: int
    fits: bool  # False: even the most compact layout is too tall for the window


def choose(rooms: int, width: int, height: int, tile_h: Mapping[str, int] | None = None) -> Layout:
    """The largest density, with the fewest columns, whose tiles all fit in the window. `tile_h`:
    measured tile heights by density name (default: the estimates)."""
    usable_w, usable_h = width - 2 * MARGIN, height - HEADER_H - FOOTER_H - 2 * MARGIN
    for density in DENSITIES:
        pitch = (tile_h or {}).get(density.name, density.tile_h)
        for columns in range(1, max(1, usable_w // density.min_tile_w) + 1):
            rows = math.ceil(rooms / columns)
            if rows * pitch <= usable_h:
                return Layout(density, columns, rows, True)
    compact = DENSITIES[-1]
    columns = max(1, usable_w // compact.min_tile_w)
    return Layout(compact, columns, math.ceil(rooms / columns), False)


def position(place: int, layout: Layout, right_to_left: bool) -> tuple[int, int]:
    """(row, column) of the `place`-th tile in display order: along the top row first (so the rooms
    that need attention are at the top), starting on the right for a right-to-left language."""
    row, column = divmod(place, layout.columns)
    return row, (layout.columns - 1 - column if right_to_left else column)

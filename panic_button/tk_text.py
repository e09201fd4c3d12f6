"""Text for Tk on X11, which neither joins Arabic letters nor lays text out right to left: done here.

Right-to-left text is shaped (arabic-reshaper: the contextual letter forms) and reordered into visual
order (python-bidi: the Unicode bidirectional algorithm), one line at a time. So lines must be broken
*before* reordering, in logical order: `wrap` breaks by measuring with the label's font, and Tk is never
asked to wrap (its wraplength would break the visual string and put the text's end on the first line).
"""

from __future__ import annotations

from typing import Protocol

import arabic_reshaper
from bidi import get_display

_BIDI_MARKS = dict.fromkeys(
    map(ord, "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)


class Measure(Protocol):
    """What `wrap` needs of a font: `tkinter.font.Font` is the real one."""

    def measure(self, text: str) -> int: ...


def visual(text: str, right_to_left: bool) -> str:
    """`text` as Tk must draw it: unchanged left to right; else each line shaped and in visual order,
    without the invisible direction marks (X11 fonts draw them as boxes)."""
    if not right_to_left:
        return text
    return "\n".join(_visual_line(line) for line in text.split("\n"))


def _visual_line(line: str) -> str:
    return str(get_display(arabic_reshaper.reshape(line), base_dir="R")).translate(_BIDI_MARKS)


def wrap(text: str, font: Measure, width: int, right_to_left: bool) -> str:
    """Break each paragraph of `text` into lines at most `width` pixels wide in `font` (a longer word
    gets a line of its own), then make every line `visual`."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_break(paragraph, font, width, right_to_left))
    return visual("\n".join(lines), right_to_left)


def _break(paragraph: str, font: Measure, width: int, right_to_left: bool) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in paragraph.split(" "):
        candidate = f"{line} {word}" if line else word
        shaped = arabic_reshaper.reshape(candidate) if right_to_left else candidate
        if line and font.measure(shaped) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    lines.append(line)
    return lines

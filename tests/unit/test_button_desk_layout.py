"""The desk's layout: the largest tiles that fit, more columns before smaller tiles, mirrored for Arabic."""

from __future__ import annotations

import pytest

from panic_button.desk_layout import DENSITIES, choose, position


@pytest.mark.parametrize(
    ("rooms", "size", "density", "columns"),
    [
        (4, (1280, 800), "large", 1),
        (20, (1280, 800), "medium", 2),
        (40, (1280, 800), "compact", 2),
        (40, (1920, 1080), "medium", 3),
        (64, (1920, 1080), "compact", 3),
    ],
)
def test_the_largest_tiles_that_fit(rooms: int, size: tuple[int, int], density: str, columns: int) -> None:
    layout = choose(rooms, *size)
    assert (layout.density.name, layout.columns, layout.fits) == (density, columns, True)


def test_measured_tile_heights_decide() -> None:
    assert choose(8, 1280, 800, {"large": 200}).density.name == "medium"


def test_too_many_rooms_say_they_do_not_fit() -> None:
    layout = choose(200, 1280, 800)
    assert layout.density is DENSITIES[-1] and not layout.fits


def test_tiles_fill_the_top_row_first_and_start_on_the_right_in_arabic() -> None:
    layout = choose(40, 1280, 800)
    assert [position(place, layout, right_to_left=False) for place in range(3)] == [(0, 0), (0, 1), (1, 0)]
    assert [position(place, layout, right_to_left=True) for place in range(3)] == [(0, 1), (0, 0), (1, 1)]

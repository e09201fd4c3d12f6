"""The shared translation helpers (recorder/i18n.py) and the Tk text layout for right-to-left languages."""

from __future__ import annotations

import arabic_reshaper
import pytest

from panic_button.i18n import DOMAIN, _
from panic_button.tk_text import visual, wrap
from recorder.i18n import (
    environment_language,
    pick_language,
    process_language,
    set_language,
    time_zone,
    translator,
)


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({"LANG": "nl_NL.UTF-8"}, "nl"),
        ({"LANGUAGE": "ar:en", "LANG": "nl_NL.UTF-8"}, "ar"),
        ({"LC_ALL": "tr_TR@euro", "LANG": "nl_NL.UTF-8"}, "tr"),
        ({"LANG": "C.UTF-8"}, None),
        ({}, None),
    ],
)
def test_the_environments_language_is_read_as_gettext_does(
    environ: dict[str, str], language: str | None
) -> None:
    assert environment_language(environ) == language


def test_a_flag_beats_the_settings_file_which_beats_the_environment_then_dutch() -> None:
    assert pick_language(DOMAIN, "en", "ar", environ={"LANG": "pl_PL"}) == "en"
    assert pick_language(DOMAIN, None, "ar", environ={"LANG": "pl_PL"}) == "ar"
    assert pick_language(DOMAIN, None, None, environ={"LANG": "pl_PL"}) == "pl"
    assert pick_language(DOMAIN, None, None, environ={"LANG": "de_DE"}) == "nl"  # no German catalog
    assert pick_language(DOMAIN, environ={"LANG": "C.UTF-8"}) == "nl"


def test_the_process_language_translates_and_english_needs_no_catalog() -> None:
    before = process_language()
    try:
        set_language("nl")
        assert _("NO CONTACT") == "GEEN CONTACT"
        set_language("en")
        assert _("NO CONTACT") == "NO CONTACT"
        set_language("tr")  # Turkish has the sign only: staff messages fall back to English
        assert _("NO CONTACT") == "NO CONTACT"
    finally:
        set_language(before)


def test_an_unknown_language_or_time_zone_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no 'de' catalog"):
        translator(DOMAIN, "de")
    with pytest.raises(ValueError, match="unknown time zone 'Europe/Amsterdm'"):
        time_zone("Europe/Amsterdm")


def test_left_to_right_text_is_left_alone() -> None:
    assert visual("Wie neemt op: Gemeente Dronten", right_to_left=False) == "Wie neemt op: Gemeente Dronten"


def test_arabic_is_shaped_and_reversed_line_by_line() -> None:
    shown = visual("لا اتصال\nتسجيل جار", right_to_left=True)
    assert shown.split("\n") == [arabic_reshaper.reshape(line)[::-1] for line in ("لا اتصال", "تسجيل جار")]
    assert all(0xFE70 <= ord(c) <= 0xFEFF for c in shown if c not in " \n")


def test_a_latin_run_inside_arabic_keeps_its_order_and_no_direction_marks_are_left() -> None:
    shown = visual("أسئلة؟ privacy@dronten.nl", right_to_left=True)
    assert "privacy@dronten.nl" in shown and shown.endswith(arabic_reshaper.reshape("أسئلة؟")[::-1])
    assert not set(shown) & {"\u200e", "\u200f", "\u061c"}


class TenPixelFont:
    def measure(self, text: str) -> int:
        return 10 * len(text)


def test_wrap_breaks_in_reading_order_before_reordering() -> None:
    """The first words of an Arabic sentence belong on the first line (its right end), which a wrap
    after reordering would get wrong."""
    logical = "واحد اثنان ثلاثة أربعة"
    first, second = wrap(logical, TenPixelFont(), width=110, right_to_left=True).split("\n")
    assert first == visual("واحد اثنان", right_to_left=True)
    assert second == visual("ثلاثة أربعة", right_to_left=True)
    assert wrap("one two three", TenPixelFont(), width=70, right_to_left=False) == "one two\nthree"

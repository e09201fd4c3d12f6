"""The translations: every marked string has its Dutch translation, each language is complete where it is
offered, placeholders survive translation, the committed .mo files are the .po files compiled, and no
user-facing string in panic_button/ is left unmarked.

The strings are extracted from the source here (Babel, as scripts/catalogs.sh does), so a new string
without a Dutch translation fails CI even if nobody ran the script.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from panic_button.i18n import CITIZEN_LANGUAGES, DOMAIN, STAFF_LANGUAGES
from recorder.i18n import SOURCE_LANGUAGE, languages
from tests.catalog_checks import (
    Message,
    call_name,
    compiled_differences,
    marked,
    marked_inside_f_strings,
    placeholders,
    read_catalog,
)
from tests.catalog_checks import unmarked as find_unmarked
from tests.catalog_checks import untranslated as find_untranslated

PACKAGE = Path(__file__).resolve().parents[2] / "panic_button"
CITIZEN_FILES = ("indicator_text.py", "indicator_view.py")  # what the sign says
STAFF_FILES = ("desk_view.py", "desk_tile.py", "desk_footer.py", "desk_model.py", "presenter.py")


def _marked() -> dict[Message, set[str]]:
    return marked(PACKAGE)


def _untranslated(language: str, files: tuple[str, ...] | None) -> list[Message]:
    return find_untranslated(DOMAIN, language, _marked(), files)


def test_strings_are_marked_at_all() -> None:
    assert len(_marked()) > 100


def test_no_message_is_marked_inside_an_f_string() -> None:
    """Babel cannot extract a `_()` inside an f-string (tests/unit/test_cli_catalogs.py shows it)."""
    assert marked_inside_f_strings(PACKAGE) == []


def test_every_marked_string_has_a_dutch_translation() -> None:
    assert _untranslated("nl", None) == []


@pytest.mark.parametrize("language", [lang for lang in CITIZEN_LANGUAGES if lang != SOURCE_LANGUAGE])
def test_the_sign_is_complete_in_every_citizen_language(language: str) -> None:
    assert _untranslated(language, CITIZEN_FILES) == []


@pytest.mark.parametrize("language", [lang for lang in STAFF_LANGUAGES if lang != SOURCE_LANGUAGE])
def test_the_desk_is_complete_in_every_staff_language(language: str) -> None:
    assert _untranslated(language, STAFF_FILES + CITIZEN_FILES) == []


def test_every_offered_language_has_a_catalog() -> None:
    assert set(CITIZEN_LANGUAGES) | set(STAFF_LANGUAGES) <= set(languages(DOMAIN))


@pytest.mark.parametrize("language", [lang for lang in languages(DOMAIN) if lang != SOURCE_LANGUAGE])
def test_translations_use_only_the_placeholders_of_their_message(language: str) -> None:
    """A placeholder the code does not fill would crash `.format()`; a lost one loses information
    (plural forms may drop the number, as in "one day")."""
    for entry in read_catalog(DOMAIN, language):
        if not entry.id or not entry.string:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = set().union(*(placeholders(i) for i in ids))
        for text in filter(None, strings):
            assert placeholders(text) <= wanted, (language, entry.id, text)
            if not isinstance(entry.id, tuple):
                assert placeholders(text) == wanted, (language, entry.id, text)


@pytest.mark.parametrize("language", [lang for lang in languages(DOMAIN) if lang != SOURCE_LANGUAGE])
def test_the_committed_mo_file_is_the_po_file_compiled(language: str) -> None:
    assert compiled_differences(DOMAIN, language) == ({}, {}), "run scripts/catalogs.sh"


# -- no unmarked user-facing strings ----------------------------------------------------------------

# Calls whose string arguments a person reads: print, errors shown to the user, Tk widgets and window
# titles, argparse help. Keyword arguments that Tk and argparse show: text, help, description.
SINKS = {"print", "ButtonError", "NoContact", "title", "Label", "Button", "Entry", "add_parser", "RoomView"}
SHOWN_KEYWORDS = {"text", "help", "description"}
ALLOWED = {  # literal prose that is not translated, and why
    "panic_button/desk_tile.py": {"DejaVu Sans"},  # a font's name
    "panic_button/indicator_view.py": {"DejaVu Sans"},
}


def _unmarked(path: Path) -> list[str]:
    allowed = ALLOWED.get(f"panic_button/{path.name}", set())
    return find_unmarked(path, _shows_arguments, SHOWN_KEYWORDS, allowed)


def _shows_arguments(call: ast.Call) -> bool:
    return call_name(call) in SINKS


def test_no_user_facing_string_is_left_unmarked() -> None:
    unmarked = [line for path in sorted(PACKAGE.glob("*.py")) for line in _unmarked(path)]
    assert unmarked == []


def test_the_scan_finds_an_unmarked_string(tmp_path: Path) -> None:
    source = tmp_path / "example.py"
    source.write_text(
        'print(f"cannot open {path}")\nLabel(root, text="not recording")\nprint(_("fine here"))\n'
    )
    assert [line.split(": ", 1)[1] for line in _unmarked(source)] == ["'cannot open '", "'not recording'"]

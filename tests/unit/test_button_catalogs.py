"""The translations: every marked string has its Dutch translation, each language is complete where it is
offered, placeholders survive translation, the committed .mo files are the .po files compiled, and no
user-facing string in panic_button/ is left unmarked.

The strings are extracted from the source here (Babel, as scripts/catalogs.sh does), so a new string
without a Dutch translation fails CI even if nobody ran the script.
"""

from __future__ import annotations

import ast
import gettext
import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from panic_button.i18n import CITIZEN_LANGUAGES, DOMAIN, STAFF_LANGUAGES
from recorder.i18n import LOCALE_DIR, SOURCE_LANGUAGE, languages

PACKAGE = Path(__file__).resolve().parents[2] / "panic_button"
CITIZEN_FILES = ("indicator_text.py", "indicator_view.py")  # what the sign says
STAFF_FILES = ("desk_view.py", "desk_tile.py", "desk_footer.py", "desk_model.py", "presenter.py")
Message = str | tuple[str, ...]


def _marked() -> dict[Message, set[str]]:
    """Every marked message in panic_button/ and the files it is in."""
    found: dict[Message, set[str]] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(PACKAGE):
        found.setdefault(message, set()).add(Path(filename).name)
    return found


def _catalog(language: str) -> Catalog:
    with (LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as file:
        return read_po(file)


def _untranslated(language: str, files: tuple[str, ...] | None) -> list[Message]:
    catalog = _catalog(language)
    missing = []
    for message, where in _marked().items():
        if files is not None and not where & set(files):
            continue
        entry = catalog.get(message[0] if isinstance(message, tuple) else message)
        strings = entry.string if entry is not None else ""
        if entry is None or entry.fuzzy or not all(strings if isinstance(strings, tuple) else [strings]):
            missing.append(message)
    return missing


def test_strings_are_marked_at_all() -> None:
    assert len(_marked()) > 100


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


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@pytest.mark.parametrize("language", [lang for lang in languages(DOMAIN) if lang != SOURCE_LANGUAGE])
def test_translations_use_only_the_placeholders_of_their_message(language: str) -> None:
    """A placeholder the code does not fill would crash `.format()`; a lost one loses information
    (plural forms may drop the number, as in "one day")."""
    for entry in _catalog(language):
        if not entry.id or not entry.string:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = set().union(*(_placeholders(i) for i in ids))
        for text in filter(None, strings):
            assert _placeholders(text) <= wanted, (language, entry.id, text)
            if not isinstance(entry.id, tuple):
                assert _placeholders(text) == wanted, (language, entry.id, text)


@pytest.mark.parametrize("language", [lang for lang in languages(DOMAIN) if lang != SOURCE_LANGUAGE])
def test_the_committed_mo_file_is_the_po_file_compiled(language: str) -> None:
    with (LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo").open("rb") as file:
        compiled = gettext.GNUTranslations(file)._catalog  # type: ignore[attr-defined]
    expected: dict[object, str] = {}
    for entry in _catalog(language):
        if not entry.id or entry.fuzzy:
            continue
        if isinstance(entry.id, tuple):
            for index, text in enumerate(entry.string):
                if text:
                    expected[(entry.id[0], index)] = text
        elif entry.string:
            expected[entry.id] = entry.string
    compiled_messages = {key: value for key, value in compiled.items() if key != ""}
    fallbacks = {key: value for key, value in compiled_messages.items() if key not in expected}
    assert {key: compiled_messages.get(key) for key in expected} == expected, "run scripts/catalogs.sh"
    # Babel compiles an untranslated plural as its English forms: nothing else may be extra.
    assert all(isinstance(key, tuple) and value in _plural_ids(language) for key, value in fallbacks.items())


def _plural_ids(language: str) -> set[str]:
    return {text for entry in _catalog(language) if isinstance(entry.id, tuple) for text in entry.id}


# -- no unmarked user-facing strings ----------------------------------------------------------------

# Calls whose string arguments a person reads: print, errors shown to the user, Tk widgets and window
# titles, argparse help. Keyword arguments that Tk and argparse show: text, help, description.
SINKS = {"print", "ButtonError", "NoContact", "title", "Label", "Button", "Entry", "add_parser", "RoomView"}
SHOWN_KEYWORDS = {"text", "help", "description"}
MARKERS = {"_", "N_", "gettext", "ngettext"}
WORDS = re.compile(r"[A-Za-z]{2,}[ ,.:;!?]+[A-Za-z]{2,}")  # two words: prose, not an identifier
ALLOWED = {  # literal prose that is not translated, and why
    "panic_button/desk_tile.py": {"DejaVu Sans"},  # a font's name
    "panic_button/indicator_view.py": {"DejaVu Sans"},
}


def _name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _literals(node: ast.AST) -> Iterator[ast.AST]:
    """String literals and f-strings in `node` that are not inside a marking call."""
    if isinstance(node, ast.Call) and _name(node) in MARKERS:
        return
    if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        yield node
        return
    for child in ast.iter_child_nodes(node):
        yield from _literals(child)


def _text(node: ast.AST) -> str:
    if isinstance(node, ast.Constant):
        return str(node.value)
    return "".join(
        v.value
        for v in getattr(node, "values", [])
        if isinstance(v, ast.Constant) and isinstance(v.value, str)
    )


def _unmarked(path: Path) -> list[str]:
    tree, found = ast.parse(path.read_text()), []
    allowed = ALLOWED.get(f"panic_button/{path.name}", set())
    for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call)):
        shown = list(call.args) if _name(call) in SINKS else []
        if _name(call) != "Field":  # a pydantic field's description documents the settings file
            shown += [kw.value for kw in call.keywords if kw.arg in SHOWN_KEYWORDS]
        for argument in shown:
            for literal in _literals(argument):
                text = _text(literal)
                if WORDS.search(text) and text not in allowed:
                    found.append(f"{path.name}:{literal.lineno}: {text!r}")
    return found


def test_no_user_facing_string_is_left_unmarked() -> None:
    unmarked = [line for path in sorted(PACKAGE.glob("*.py")) for line in _unmarked(path)]
    assert unmarked == []


def test_the_scan_finds_an_unmarked_string(tmp_path: Path) -> None:
    source = tmp_path / "example.py"
    source.write_text(
        'print(f"cannot open {path}")\nLabel(root, text="not recording")\nprint(_("fine here"))\n'
    )
    assert [line.split(": ", 1)[1] for line in _unmarked(source)] == ["'cannot open '", "'not recording'"]

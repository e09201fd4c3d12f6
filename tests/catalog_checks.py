"""Checks shared by the catalog tests of each gettext domain (tests/unit/test_button_catalogs.py for
`panic_button`, tests/unit/test_cli_catalogs.py for `recorder`): what is marked in the sources (extracted
with Babel, as scripts/catalogs.sh does), what a catalog translates, whether the committed .mo file is
its .po compiled, and an AST scan for user-facing literals left unmarked."""

from __future__ import annotations

import ast
import functools
import gettext
import re
import string
from collections.abc import Callable, Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from recorder.i18n import LOCALE_DIR

Message = str | tuple[str, ...]


@functools.cache
def marked(package: Path) -> dict[Message, set[str]]:
    """Every marked message in `package` and the files (names) it is in."""
    found: dict[Message, set[str]] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(package):
        found.setdefault(message, set()).add(Path(filename).name)
    return found


def read_catalog(domain: str, language: str) -> Catalog:
    with (LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po").open("rb") as file:
        return read_po(file)


def untranslated(
    domain: str, language: str, messages: dict[Message, set[str]], files: tuple[str, ...] | None = None
) -> list[Message]:
    """The messages (of `files`, if given) without a translation in `language`: missing, fuzzy or empty."""
    catalog = read_catalog(domain, language)
    missing = []
    for message, where in messages.items():
        if files is not None and not where & set(files):
            continue
        entry = catalog.get(message[0] if isinstance(message, tuple) else message)
        strings = entry.string if entry is not None else ""
        if entry is None or entry.fuzzy or not all(strings if isinstance(strings, tuple) else [strings]):
            missing.append(message)
    return missing


def placeholders(text: str) -> set[str]:
    """The names of the `str.format` fields in `text`."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def compiled_differences(domain: str, language: str) -> tuple[dict[object, str | None], dict[object, str]]:
    """(the translations the .mo file lacks or has differently, as the .mo has them; the .mo's entries
    that are not translations in the .po). Both empty when the .mo is the .po compiled."""
    with (LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.mo").open("rb") as file:
        compiled = gettext.GNUTranslations(file)._catalog  # type: ignore[attr-defined]
    catalog = read_catalog(domain, language)
    expected: dict[object, str] = {}
    for entry in catalog:
        if not entry.id or entry.fuzzy:
            continue
        if isinstance(entry.id, tuple):
            for index, text in enumerate(entry.string):
                if text:
                    expected[(entry.id[0], index)] = text
        elif entry.string:
            expected[entry.id] = entry.string
    compiled_messages = {key: value for key, value in compiled.items() if key != ""}
    wrong = {
        key: compiled_messages.get(key)
        for key, text in expected.items()
        if compiled_messages.get(key) != text
    }
    # Babel compiles an untranslated plural as its English forms: nothing else may be extra.
    plural_ids = {text for entry in catalog if isinstance(entry.id, tuple) for text in entry.id}
    extra = {
        key: value
        for key, value in compiled_messages.items()
        if key not in expected and not (isinstance(key, tuple) and value in plural_ids)
    }
    return wrong, extra


# -- no unmarked user-facing strings ----------------------------------------------------------------

MARKERS = {"_", "N_", "gettext", "ngettext"}
WORDS = re.compile(r"[A-Za-z]{2,}[ ,.:;!?]+[A-Za-z]{2,}")  # two words: prose, not an identifier


def call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _literals(node: ast.AST) -> Iterator[ast.AST]:
    """String literals and f-strings in `node` that are not inside a marking call."""
    if isinstance(node, ast.Call) and call_name(node) in MARKERS:
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


def unmarked(
    path: Path,
    shows_arguments: Callable[[ast.Call], bool],
    shown_keywords: set[str],
    allowed: frozenset[str] | set[str] = frozenset(),
) -> list[str]:
    """`file:line: 'text'` for each prose literal that a person reads unmarked: in the arguments of a
    call that `shows_arguments`, or in a keyword argument named in `shown_keywords` (except a pydantic
    Field's, whose description documents the settings file)."""
    tree, found = ast.parse(path.read_text()), []
    for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call)):
        shown = list(call.args) if shows_arguments(call) else []
        if call_name(call) != "Field":
            shown += [kw.value for kw in call.keywords if kw.arg in shown_keywords]
        for argument in shown:
            for literal in _literals(argument):
                text = _text(literal)
                if WORDS.search(text) and text not in allowed:
                    found.append(f"{path.name}:{getattr(literal, 'lineno', 0)}: {text!r}")
    return found


def marked_inside_f_strings(package: Path) -> list[str]:
    """`file:line` of each marking call inside an f-string's braces: Babel's extractor reads an f-string
    (Python < 3.12) as one string token and never sees the call, so that message would silently stay
    English."""
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.JoinedStr):
                calls = (n for n in ast.walk(node) if isinstance(n, ast.Call) and call_name(n) in MARKERS)
                found += [f"{path.relative_to(package)}:{call.lineno}" for call in calls]
    return found

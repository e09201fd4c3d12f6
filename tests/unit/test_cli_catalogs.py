"""The `recorder` catalog (the operator CLI's human messages): every marked string has a Dutch
translation (not fuzzy, not empty), the .po is in sync with the sources, placeholders survive
translation exactly, the committed .mo is the .po compiled, and no user-facing literal in the CLI's
modules is left unmarked.

The strings are extracted from recorder/ here (Babel, as scripts/catalogs.sh does), so a new or changed
message without its Dutch translation fails CI even if nobody ran the script.
"""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest
from babel.messages.catalog import TranslationError
from babel.messages.checkers import python_format

from recorder.messages import DOMAIN
from tests.catalog_checks import (
    call_name,
    compiled_differences,
    marked,
    marked_inside_f_strings,
    read_catalog,
    unmarked,
    untranslated,
)

PACKAGE = Path(__file__).resolve().parents[2] / "recorder"

# The modules that print for the `recorder` command or raise into its one-line error path. Not here:
# the daemon's modules (`recorder run` speaks English: it writes the journal); recorder/audit/entry.py
# and canonical.py, whose texts (why a line is not an entry) are the `problem` field of `audit list
# --format json|csv` and stay English there; recorder/vault/checkpoints.py, incidents.py and
# uploader.py (the daemon's upload path). recorder/config.py's validators are marked: pydantic wraps
# their text in its own English ("Value error, …").
CLI_MODULES = (
    "cli.py",
    "config.py",
    "local_times.py",
    "cli_parser.py",
    "exit_codes.py",
    "preflight.py",
    "install.py",
    "demo.py",
    "devices.py",
    "keygen.py",
    "retention.py",
    "storage_lock.py",
    "clock_watch.py",
    "audit/commands.py",
    "audit/accounting.py",
    "audit/reader.py",
    "audit/reconcile.py",
    "audit/state.py",
    "audit/verify.py",
    "audit/witness.py",
    "audit/listing.py",
    "audit/report_html.py",
    "incident/show.py",
    "incident/listing.py",
    "incident/verdict.py",
    "incident/export_incident.py",
    "incident/export.py",
    "incident/age_reader.py",
    "incident/age_keys.py",
    "incident/bech32.py",
    "vault/commands.py",
    "vault/audit_copy.py",
    "vault/client.py",
    "vault/layout.py",
)
# Literal prose that is shown untranslated, and why.
ALLOWED = {
    # the audit log's own words: `reason` goes into the audit log, which stays English
    "demo.py": {"demo finished"},
    # a misuse of the reader by our own code (a bug, reported as one), never the user's doing
    "incident/age_reader.py": {"the plaintext has not been read to the end yet"},
}


def test_strings_are_marked_at_all() -> None:
    assert len(marked(PACKAGE)) > 250


def test_no_message_is_marked_inside_an_f_string(tmp_path: Path) -> None:
    """Babel cannot extract `f"<h1>{_('Report')}</h1>"`: the message would stay English unnoticed."""
    assert marked_inside_f_strings(PACKAGE) == []
    (tmp_path / "example.py").write_text("title = f\"<h1>{_('Report')}</h1>\"\n")
    assert marked_inside_f_strings(tmp_path) == ["example.py:1"]


def test_every_marked_string_has_a_dutch_translation() -> None:
    assert untranslated(DOMAIN, "nl", marked(PACKAGE)) == []


def test_the_catalog_is_in_sync_with_the_sources() -> None:
    """No message the sources no longer use, none they use missing: run scripts/catalogs.sh."""
    ids = {entry.id for entry in read_catalog(DOMAIN, "nl") if entry.id}
    sources = set(marked(PACKAGE))
    assert (sorted(map(str, sources - ids)), sorted(map(str, ids - sources))) == ([], [])


def test_no_translation_is_fuzzy() -> None:
    assert [entry.id for entry in read_catalog(DOMAIN, "nl") if entry.id and entry.fuzzy] == []


def _fields(text: str) -> list[tuple[str, str, str]]:
    """Each `{name!conversion:spec}` of `text`, in order of name."""
    parsed = string.Formatter().parse(text)
    return sorted(
        (name, conversion or "", spec or "") for _, name, spec, conversion in parsed if name is not None
    )


def test_translations_keep_every_placeholder_exactly() -> None:
    """A `{name}` the code does not fill crashes `.format()`; a lost one loses information; a changed
    conversion or format spec shows a value differently. %-style messages (argparse's) are checked by
    Babel's python-format checker."""
    wrong = []
    for entry in read_catalog(DOMAIN, "nl"):
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if entry.python_format:
            try:
                python_format(None, entry)
            except TranslationError as error:
                wrong.append((entry.id, str(error)))
            continue
        for text in strings:
            if _fields(text) != _fields(ids[0]):
                wrong.append((entry.id, text))
    assert wrong == []


def test_the_committed_mo_file_is_the_po_file_compiled() -> None:
    assert compiled_differences(DOMAIN, "nl") == ({}, {}), "run scripts/catalogs.sh"


# -- no unmarked user-facing strings ----------------------------------------------------------------

SHOWN_KEYWORDS = {"help", "description", "epilog"}  # what argparse shows
SINKS = {"print", "write", "_say", "_step", "Verdict", "ArgumentTypeError", "add_parser"}


def _shows_arguments(call: ast.Call) -> bool:
    """print, a write to a stream, an error raised (its message is the one line on stderr), a verdict
    line, a step of install, and a preflight problem or warning (`report.problems.append(...)`)."""
    name = call_name(call)
    if name in SINKS or name.endswith("Error"):
        return True
    receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
    return (
        name == "append" and isinstance(receiver, ast.Attribute) and receiver.attr in ("problems", "warnings")
    )


def _unmarked(path: Path, name: str) -> list[str]:
    return unmarked(path, _shows_arguments, SHOWN_KEYWORDS, ALLOWED.get(name, set()))


def test_no_user_facing_string_is_left_unmarked() -> None:
    found = [line for name in CLI_MODULES for line in _unmarked(PACKAGE / name, name)]
    assert found == []


def test_the_scan_finds_an_unmarked_string(tmp_path: Path) -> None:
    source = tmp_path / "example.py"
    source.write_text(
        'print(f"cannot open {path}")\n'
        'raise AuditError("no such audit log")\n'
        'report.problems.append(f"{where}: file not found")\n'
        'p.add_argument("--key", help="verification key file")\n'
        'sys.stderr.write("stopped by signal")\n'
        'print(_("fine here"), json.dumps({"a b": 1}))\n'
        'log.warning("retention_undated", action="kept: its start is not known")\n'
    )
    assert [line.split(": ", 1)[1] for line in _unmarked(source, "example.py")] == [
        "'cannot open '",
        "'no such audit log'",
        "': file not found'",
        "'verification key file'",
        "'stopped by signal'",
    ]


@pytest.mark.parametrize("name", CLI_MODULES)
def test_every_cli_module_exists(name: str) -> None:
    """A module renamed away would silently leave the scan."""
    assert (PACKAGE / name).is_file()

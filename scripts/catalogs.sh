#!/usr/bin/env bash
# The translations (gettext catalogs, made with Babel): after changing a marked string in panic_button/,
#   scripts/catalogs.sh         extract the strings, merge them into every .po, compile the .mo files
#   scripts/catalogs.sh init LANG   start a catalog for a new language
# then translate the new entries in recorder/locale/LANG/LC_MESSAGES/panic_button.po (Dutch at least:
# tests/unit/test_button_catalogs.py fails on a missing Dutch translation), run this again, and
# commit the .po and .mo files (the wheel ships the .mo files; a test checks that they match).
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL=${PYBABEL:-.venv/bin/pybabel}
DOMAIN=panic_button
LOCALES=recorder/locale
POT=$(mktemp --suffix=.pot)
trap 'rm -f "$POT"' EXIT

"$PYBABEL" -q extract --project=room-recorder --no-wrap --add-location=file --sort-by-file \
  -c "Translators:" -o "$POT" "$DOMAIN"
if [[ ${1:-} == init ]]; then
  "$PYBABEL" init -i "$POT" -d "$LOCALES" -D "$DOMAIN" -l "$2" --no-wrap
else
  "$PYBABEL" update -i "$POT" -d "$LOCALES" -D "$DOMAIN" --no-wrap --no-fuzzy-matching --ignore-obsolete
fi
"$PYBABEL" compile -d "$LOCALES" -D "$DOMAIN" --statistics

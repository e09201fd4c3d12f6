#!/usr/bin/env bash
# The translations (gettext catalogs, made with Babel), one domain per package: panic_button (the front
# ends, from panic_button/) and recorder (the operator CLI's human messages, from recorder/).
# After changing a marked string:
#   scripts/catalogs.sh                     extract the strings, merge them into every .po, compile the .mo files
#   scripts/catalogs.sh init LANG [DOMAIN]  start a catalog for a new language (both domains, or DOMAIN)
# then translate the new entries in recorder/locale/LANG/LC_MESSAGES/DOMAIN.po (Dutch at least:
# tests/unit/test_button_catalogs.py and tests/unit/test_cli_catalogs.py fail on a missing Dutch
# translation), run this again, and commit the .po and .mo files (the wheel ships the .mo files; a test
# checks that they match).
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL=${PYBABEL:-.venv/bin/pybabel}
LOCALES=recorder/locale
DOMAINS=(panic_button recorder)  # each is extracted from the package of the same name
if [[ ${1:-} == init && -n ${3:-} ]]; then
  DOMAINS=("$3")
fi
POT=$(mktemp --suffix=.pot)
trap 'rm -f "$POT"' EXIT

for DOMAIN in "${DOMAINS[@]}"; do
  "$PYBABEL" -q extract --project=room-recorder --no-wrap --add-location=file --sort-by-file \
    -c "Translators:" -o "$POT" "$DOMAIN"
  if [[ ${1:-} == init ]]; then
    "$PYBABEL" init -i "$POT" -d "$LOCALES" -D "$DOMAIN" -l "$2" --no-wrap
  elif compgen -G "$LOCALES/*/LC_MESSAGES/$DOMAIN.po" >/dev/null; then
    "$PYBABEL" update -i "$POT" -d "$LOCALES" -D "$DOMAIN" --no-wrap --no-fuzzy-matching --ignore-obsolete
  fi
  if compgen -G "$LOCALES/*/LC_MESSAGES/$DOMAIN.po" >/dev/null; then
    "$PYBABEL" compile -d "$LOCALES" -D "$DOMAIN" --statistics
  fi
done

"""The panic_button catalog: `_` translates into the process's language; the languages of each front end."""

from __future__ import annotations

from recorder.i18n import Messages

DOMAIN = "panic_button"
STAFF_LANGUAGES = ("nl", "en", "ar")  # complete for the desk and the staff's view of a room
CITIZEN_LANGUAGES = ("nl", "en", "ar", "tr", "pl")  # complete for the indicator's sign
# tests/unit/test_button_catalogs.py checks both claims, and that Dutch is complete for everything.

_messages = Messages(DOMAIN)
_ = _messages.gettext
ngettext = _messages.ngettext

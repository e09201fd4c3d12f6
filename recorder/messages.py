"""The `recorder` catalog: `_` translates the operator CLI's human messages into the process's language.

Machine-readable output (JSON, CSV, the audit log, log event names and key=value logs, file formats)
is never translated. Mark with `_` where the text is shown; with `N_` where it is defined (a module
constant) and translated later with `_`.
"""

from __future__ import annotations

from recorder.i18n import Messages

DOMAIN = "recorder"

_messages = Messages(DOMAIN)
_ = _messages.gettext
ngettext = _messages.ngettext


def N_(message: str) -> str:
    """Marks `message` for extraction without translating it (yet)."""
    return message

"""argparse's own words ("usage:", "options", its error messages) in the `recorder` catalog.

argparse looks its texts up through the module-level `_` and `ngettext` it imported from gettext (the
process-wide gettext domain, whose language comes only from the environment). `translate_argparse`
points those two names at our catalog, so that `--language` decides for argparse's words as well.
The messages are listed here, as argparse (Python 3.11) spells them, so that Babel extracts them.
"""

from __future__ import annotations

import argparse

from recorder.messages import N_, _, ngettext

MESSAGES = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("the following arguments are required: %s"),
    N_("one of the arguments %s is required"),
    N_("unrecognized arguments: %s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("invalid %(type)s value: %(value)r"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("not allowed with argument %s"),
    N_("ignored explicit argument %r"),
    N_("can't open '%(filename)s': %(error)s"),
    N_("unknown parser %(parser_name)r (choices: %(choices)s)"),
)
PLURALS = (ngettext("expected %s argument", "expected %s arguments", 0),)  # marks it for extraction


def translate_argparse() -> None:
    """From now on argparse speaks the process's language (set before the parser is built)."""
    setattr(argparse, "_", _)  # noqa: B010 (argparse's module globals, looked up at each use)
    setattr(argparse, "ngettext", ngettext)  # noqa: B010

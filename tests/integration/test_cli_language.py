"""The `recorder` command's language: --language, else the environment's (as gettext reads it), else
Dutch; help, argparse's own words and the one-line errors all follow it; `recorder run` stays English."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BAD_CONFIG = 'room = "x"\n[video]\nsource = "bogus"\n'


def recorder(*args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """`recorder ARGS` with only the language variables given here (none of the test run's)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LANG", "LC_"))}
    return subprocess.run(
        [sys.executable, "-m", "recorder", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**env, **environ},
    )


@pytest.fixture
def bad_config(tmp_path: Path) -> Path:
    path = tmp_path / "room.toml"
    path.write_text(BAD_CONFIG)
    return path


def test_check_config_speaks_dutch_when_asked(bad_config: Path) -> None:
    result = recorder("--language", "nl", "check-config", str(bad_config), LANGUAGE="en")
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"recorder: {bad_config}: met deze configuratie kan de daemon niet starten:"
    )


def test_check_config_speaks_english_when_asked(bad_config: Path) -> None:
    result = recorder("--language=en", "check-config", str(bad_config), LANG="nl_NL.UTF-8")
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"recorder: {bad_config}: the daemon cannot start with this configuration:"
    )


def test_help_and_argparses_own_words_are_dutch() -> None:
    result = recorder("--help", LANGUAGE="nl")
    assert result.returncode == 0
    assert result.stdout.startswith("gebruik: recorder")
    assert "afsluitcodes:" in result.stdout and "de configuratie van een ruimte controleren" in result.stdout


def test_help_is_english_when_asked() -> None:
    result = recorder("--help", LANGUAGE="en")
    assert result.stdout.startswith("usage: recorder") and "validate a room config" in result.stdout


def test_a_usage_error_is_dutch() -> None:
    result = recorder("--language", "nl", "export")
    assert result.returncode == 2
    assert "recorder export: fout: deze argumenten zijn verplicht: incident" in result.stderr


@pytest.mark.parametrize(
    "environ",
    [{"LANG": "C"}, {"LANG": "C.UTF-8"}, {}, {"LC_ALL": "POSIX"}, {"LANG": "de_DE.UTF-8"}],
    ids=["C", "C.UTF-8", "unset", "POSIX", "no-German-catalog"],
)
def test_without_a_language_we_have_it_is_dutch(environ: dict[str, str]) -> None:
    assert recorder("--help", **environ).stdout.startswith("gebruik: recorder")


@pytest.mark.parametrize(
    ("environ", "first_word"),
    [
        ({"LANG": "en_GB.UTF-8"}, "usage:"),
        ({"LC_MESSAGES": "nl_BE.UTF-8@euro", "LANG": "en_US.UTF-8"}, "gebruik:"),
        ({"LANGUAGE": "en:nl", "LC_ALL": "nl_NL.UTF-8"}, "usage:"),
    ],
)
def test_the_environment_is_read_as_gettext_does(environ: dict[str, str], first_word: str) -> None:
    assert recorder("--help", **environ).stdout.startswith(first_word)


def test_an_unknown_language_is_one_line_and_a_usage_error() -> None:
    result = recorder("--language", "de", "--help", LANGUAGE="en")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "recorder: unknown language 'de' for --language (have: en, nl)\n"
    dutch = recorder("--language=xx", "devices")
    assert (dutch.returncode, dutch.stderr) == (
        2,
        "recorder: onbekende taal 'xx' bij --language (beschikbaar: en, nl)\n",
    )


def test_run_stays_english_for_the_journal(bad_config: Path) -> None:
    result = recorder("--language", "nl", "run", "--config", str(bad_config))
    assert result.returncode == 2
    assert "the daemon cannot start with this configuration" in result.stderr

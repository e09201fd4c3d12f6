"""docs/deploy.md stays true: every message it quotes is still in the code, and the container test
runs each of its command blocks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
GUIDE = (REPO / "docs" / "deploy.md").read_text()
MESSAGES = re.findall(r"<!-- message: (.+?) -->", GUIDE)
CODE = "\n".join(
    path.read_text() for package in ("recorder", "panic_button") for path in (REPO / package).rglob("*.py")
)


def test_the_troubleshooting_section_quotes_messages() -> None:
    assert len(MESSAGES) >= 7


@pytest.mark.parametrize("message", MESSAGES)
def test_each_quoted_message_is_printed_by_the_code(message: str) -> None:
    assert message in CODE, f"docs/deploy.md quotes {message!r}, which the code no longer prints"


@pytest.mark.parametrize("message", MESSAGES)
def test_each_quoted_message_is_shown_to_the_reader(message: str) -> None:
    visible = re.sub(r"<!--.*?-->", "", GUIDE).replace("\n", " ")
    assert message in visible, f"{message!r} is marked but not shown in the text"


def test_each_step_of_the_guide_is_run_by_the_container_test() -> None:
    driver = (REPO / "tests" / "integration" / "systemd_nspawn_driver.sh").read_text()
    host = (REPO / "tests" / "integration" / "test_systemd_nspawn.py").read_text()
    steps = re.findall(r"<!-- step: ([\w-]+) -->\s*\n```sh\n", GUIDE)
    assert steps, "no marked steps"
    for step in steps:
        assert re.search(rf"^step \S+ {step}\b", driver, re.M) or f'_host_step("{step}"' in host, step

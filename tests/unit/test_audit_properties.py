"""Property tests over generated logs: every kind of tampering is detected and names the entry;
a torn tail followed by a restart is sealed and visible."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recorder.audit import canonical, chain
from recorder.audit.log import AuditLog
from recorder.audit.state import read_state_file
from recorder.audit.verify import verify
from tests.unit.audit_logs import relink

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
entry_data = st.dictionaries(st.sampled_from(["client", "reason", "incident", "n", "x"]), values, max_size=4)
logs = st.lists(
    st.tuples(st.sampled_from(["incident_started", "clear", "annotation"]), entry_data),
    min_size=2,
    max_size=8,
)


class Log:
    """A real log in a fresh directory (hypothesis runs many examples per test function)."""

    def __init__(self, entries: list[tuple[str, dict[str, Any]]]) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="audit-prop-"))
        self.path = self.dir / "audit.jsonl"
        self.key = AuditLog.create(self.path, self.dir / "verify.key")
        writer = AuditLog(self.path)
        for event, data in entries:
            writer.append(event, **data)
        writer.close()
        self.lines = self.path.read_bytes().splitlines(keepends=True)
        self.state = read_state_file(Path(str(self.path) + ".key"))

    def __enter__(self) -> Log:
        return self

    def __exit__(self, *_exc: object) -> None:
        shutil.rmtree(self.dir)

    def write(self, lines: list[bytes]) -> None:
        self.path.write_bytes(b"".join(lines))

    def problems(self, **kwargs: Any) -> list[str]:
        return verify(self.path, self.key, **kwargs).problems


def _line_of(lines: list[bytes], offset: int) -> int:
    """1-based number of the line holding byte `offset`."""
    end = 0
    for number, line in enumerate(lines, start=1):
        end += len(line)
        if offset < end:
            return number
    return len(lines)


@SETTINGS
@given(logs, st.data())
def test_every_byte_edit_is_detected_at_its_line(entries: list[Any], data: st.DataObject) -> None:
    with Log(entries) as log:
        raw = bytearray(b"".join(log.lines))
        offset = data.draw(st.integers(0, len(raw) - 1))
        raw[offset] = data.draw(st.integers(0, 255).filter(lambda b: b != raw[offset]))
        log.path.write_bytes(bytes(raw))
        problems = log.problems()
        assert problems and problems[0].startswith(f"line {_line_of(log.lines, offset)}"), problems


@SETTINGS
@given(logs, st.data(), st.sampled_from(["delete", "swap", "insert"]))
def test_deleting_swapping_or_inserting_a_line_is_detected(
    entries: list[Any], data: st.DataObject, how: str
) -> None:
    with Log(entries) as log:
        lines = list(log.lines)
        index = data.draw(st.integers(0, len(lines) - 2))
        first_wrong = index + 1
        if how == "delete":
            del lines[index]
        elif how == "swap":
            lines[index], lines[index + 1] = lines[index + 1], lines[index]
        else:
            source = data.draw(st.integers(0, len(lines) - 1))
            lines.insert(index, lines[source])
            first_wrong += source == index  # a copy of the very next line: the original comes first
        log.write(lines)
        problems = log.problems()
        assert problems and problems[0].startswith(f"line {first_wrong} "), problems


@SETTINGS
@given(logs, st.data(), st.sampled_from(["data", "event", "seq", "prev", "time", "v"]))
def test_a_duplicate_key_is_detected(entries: list[Any], data: st.DataObject, key: str) -> None:
    with Log(entries) as log:
        index = data.draw(st.integers(0, len(log.lines) - 1))
        body = json.loads(log.lines[index])
        forged = canonical.encode(body[key])
        lines = list(log.lines)
        lines[index] = b'{"' + key.encode() + b'":' + forged + b"," + lines[index][1:]
        log.write(lines)
        problems = log.problems()
        assert problems and problems[0].startswith(f"line {index + 1}") and "duplicate key" in problems[0]


@SETTINGS
@given(logs)
def test_crlf_and_an_empty_file_are_detected(entries: list[Any]) -> None:
    with Log(entries) as log:
        log.write([line.replace(b"\n", b"\r\n") for line in log.lines])
        assert log.problems()[0].startswith("line 1") and "carriage return" in log.problems()[0]
        log.write([])
        assert log.problems() and "empty" in log.problems()[0]


@SETTINGS
@given(logs, st.data())
def test_re_mac_with_a_newer_key_is_detected(entries: list[Any], data: st.DataObject) -> None:
    with Log(entries) as log:
        index = data.draw(st.integers(0, len(log.lines) - 1))
        newer = chain.key_at(log.key, data.draw(st.integers(index + 1, len(log.lines))))
        lines = list(log.lines)
        lines[index] = relink(lines[index].replace(b'"data":{', b'"data":{"forged":1,', 1), mac_key=newer)
        log.write(lines)
        problems = log.problems()
        assert problems and problems[0].startswith(f"line {index + 1}"), problems


@SETTINGS
@given(logs, st.data())
def test_tail_truncation_is_detected_against_the_state_and_a_witness(
    entries: list[Any], data: st.DataObject
) -> None:
    with Log(entries) as log:
        last = json.loads(log.lines[-1])
        kept = data.draw(st.integers(0, len(log.lines) - 1))
        log.write(log.lines[:kept])
        assert any("truncated" in p for p in log.problems(state=log.state))
        assert any("truncated" in p for p in log.problems(witness=(last["seq"], last["hash"])))


@SETTINGS
@given(logs, st.data())
def test_a_torn_tail_followed_by_a_restart_is_sealed_and_visible(
    entries: list[Any], data: st.DataObject
) -> None:
    """Power cut mid-append: the state was not advanced, a prefix of the new line is on disk."""
    with Log(entries) as log:
        lines = list(log.lines)
        torn_from = lines.pop()  # the entry whose append was cut (the state is rolled back to before it)
        cut = data.draw(st.integers(1, len(torn_from) - 1))
        log.write([*lines, torn_from[:cut]])
        seq = len(lines)
        state_file = Path(str(log.path) + ".key")
        state_file.write_text(
            f"{seq:020d} {chain.key_at(log.key, seq).hex()} {json.loads(lines[-1])['hash']} {0:020d}\n"
        )
        assert log.problems()[0].startswith(f"line {seq + 1}")
        AuditLog(log.path).close()  # the restart
        report = verify(log.path, log.key)
        assert report.ok, report.problems
        if torn_from[:cut] + b"\n" == torn_from:  # only the newline was lost: the entry is completed
            assert report.entries == seq + 1 and log.path.read_bytes().endswith(torn_from)
            return
        assert (
            report.notes and report.notes[0].startswith(f"line {seq + 1}: ") and "sealed" in report.notes[0]
        )
        assert torn_from[:cut] in log.path.read_bytes()


def _documented_float(value: float) -> str:
    """docs/format.md's rule for non-integer numbers, written from the text (not from `repr`)."""
    if value == 0:
        return "-0.0" if str(value).startswith("-") else "0.0"
    for digits in range(1, 18):
        text = f"{value:.{digits - 1}e}"
        if float(text) == value:
            break
    mantissa, exponent_text = text.split("e")
    sign = "-" if mantissa.startswith("-") else ""
    figures = mantissa.lstrip("-").replace(".", "").rstrip("0") or "0"
    exponent = int(exponent_text)
    if -4 <= exponent < 16:
        point = exponent + 1
        if point <= 0:
            whole, fraction = "0", "0" * -point + figures
        else:
            padded = figures.ljust(point, "0")
            whole, fraction = padded[:point], padded[point:] or "0"
        return f"{sign}{whole}.{fraction}"
    rest = f".{figures[1:]}" if len(figures) > 1 else ""
    return f"{sign}{figures[0]}{rest}e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"


@settings(max_examples=500, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_are_written_as_docs_format_md_says(value: float) -> None:
    stored = canonical.normalize(value)
    assert abs(stored - value) <= abs(value) * 1e-14  # rounded to 15 significant digits, no further
    assert canonical.encode({"x": stored}).decode() == '{"x":' + _documented_float(stored) + "}"

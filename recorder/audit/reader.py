"""Reading a log line by line, with byte offsets: the one place that splits the file into lines."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recorder.audit.entry import BadLine, Entry, decode


@dataclass(frozen=True)
class Line:
    number: int  # 1-based
    offset: int  # byte offset of the line's first byte
    raw: bytes  # with its LF (a torn last line has none)
    entry: Entry | None  # None when the line is not a well-formed entry
    problem: str | None  # why not

    @property
    def end(self) -> int:
        return self.offset + len(self.raw)


def scan(path: Path) -> Iterator[Line]:
    """Every line of the log, decoded. MACs are not checked here (that needs the key). Raises OSError."""
    offset = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                entry, problem = decode(raw), None
            except BadLine as error:
                entry, problem = None, str(error)
            yield Line(number, offset, raw, entry, problem)
            offset += len(raw)


def read_entries(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line number, the entry as a dict or None when the line is not a well-formed entry, raw text).

    "Well-formed" means canonical, with a hash matching its bytes; the MAC is not checked, so use
    `recorder.audit.verify.verify` where forgery matters. Raises OSError.
    """
    for line in scan(path):
        raw = line.raw.decode("utf-8", "replace")
        yield line.number, line.entry.as_dict() if line.entry else None, raw


def entries(path: Path) -> Iterator[Entry]:
    """Only the well-formed entries, in file order (see `read_entries`). Raises OSError."""
    for line in scan(path):
        if line.entry is not None:
            yield line.entry

"""Byte-canonical JSON for audit entries: one encoding per value, and a strict parser that rejects the rest.

The rules are written out in docs/format.md ("Canonical encoding") so that an independent verifier can
check them; this module is the reference implementation.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 16
"""Deepest nesting of objects and arrays an entry may have (an entry itself is depth 1)."""

SAFE_INTEGER = 2**53 - 1
"""Integers beyond ±this are written as strings (JSON readers in other languages lose precision)."""


class NotCanonical(ValueError):
    """The bytes are not the canonical encoding of a JSON object; the message says why."""


def normalize(value: Any) -> Any:
    """What the writer stores for `value`: floats rounded to 15 significant digits, NaN and
    infinities null, lone surrogates U+FFFD,
    integers beyond ±(2**53 - 1) strings, tuples lists, keys strings. Raises TypeError for other types."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) <= SAFE_INTEGER else str(value)
    if isinstance(value, float):
        return _fifteen_digits(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return _scalar_values(value)
    if isinstance(value, dict):
        return {_scalar_values(str(key)): normalize(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [normalize(item) for item in value]
    raise TypeError(f"cannot store {type(value).__name__} in the audit log")


def encode(value: Any) -> bytes:
    """The canonical bytes of an already normalized value. Raises ValueError, TypeError."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def parse(raw: bytes) -> dict[str, Any]:
    """Parse `raw` as the canonical encoding of a JSON object. Raises NotCanonical naming the first
    rule broken (carriage return, invalid UTF-8, duplicate key, nesting, whitespace or escapes)."""
    if b"\r" in raw:
        raise NotCanonical("carriage return in the line (CRLF line end?)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise NotCanonical(f"invalid UTF-8 at byte {error.start}") from None
    try:  # fast path: bytes that re-encode to themselves hold no duplicate key, NaN or escape
        value = json.loads(text)
        if isinstance(value, dict) and encode(value) == raw and _shallow(raw, value):
            return value
    except (ValueError, RecursionError, UnicodeEncodeError):
        pass
    _explain(raw, text)
    raise NotCanonical("not in canonical form")  # not reached: _explain raises


def _explain(raw: bytes, text: str) -> None:
    """Raise NotCanonical with the first rule `raw` breaks."""
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError:
        raise NotCanonical("nested too deeply") from None
    except ValueError as error:  # includes json.JSONDecodeError
        raise NotCanonical(str(error)) from None
    if not isinstance(value, dict):
        raise NotCanonical("not a JSON object")
    if not _shallow(raw, value):
        raise NotCanonical(f"nested deeper than {MAX_DEPTH} levels")
    try:
        again = encode(value)
    except (ValueError, UnicodeEncodeError):
        raise NotCanonical("holds a lone surrogate escape") from None
    raise NotCanonical(f"not in canonical form from byte {_first_difference(raw, again)} on")


def _shallow(raw: bytes, value: Any) -> bool:
    """At most MAX_DEPTH levels (counting brackets first: a walk is needed only for many of them)."""
    return raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH or _depth(value) <= MAX_DEPTH


def _fifteen_digits(value: float) -> float:
    """Rounded to 15 significant digits, so that its shortest form is unique (no ties); near the
    largest double, where rounding up would overflow, 14."""
    rounded = float(f"{value:.15g}")
    return rounded if math.isfinite(rounded) else float(f"{value:.14g}")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _scalar_values(text: str) -> str:
    """Only Unicode scalar values survive UTF-8: a lone surrogate becomes U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise NotCanonical(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise NotCanonical(f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    """Nesting depth, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _first_difference(left: bytes, right: bytes) -> int:
    return next(
        (i for i, (a, b) in enumerate(zip(left, right, strict=False)) if a != b), min(len(left), len(right))
    )

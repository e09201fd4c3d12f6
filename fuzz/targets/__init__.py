"""The fuzz targets, one module per surface; each has `SURFACE`, `seeds()` and `one_input(data)`."""

from __future__ import annotations

import importlib
from types import ModuleType

TARGETS = ("control", "config", "age_reader", "age_keys", "audit", "allowlist", "camera_jpeg")


def load(name: str) -> ModuleType:
    """The target module `name`. Raises KeyError for an unknown name."""
    if name not in TARGETS:
        raise KeyError(f"no fuzz target {name!r}; the targets are {', '.join(TARGETS)}")
    return importlib.import_module(f"fuzz.targets.{name}")

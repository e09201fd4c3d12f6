"""The audit log is opened only as a regular file of its own: never through a symbolic link."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from recorder.audit.log import AuditLog
from recorder.errors import StorageError


def test_a_log_that_is_a_symbolic_link_is_refused_at_open(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    AuditLog.create(log, tmp_path / "verify-key")
    AuditLog(log).close()
    os.rename(log, tmp_path / "real.jsonl")
    os.symlink(tmp_path / "real.jsonl", log)
    with pytest.raises(StorageError, match=r"audit\.jsonl is a symbolic link, not the log itself"):
        AuditLog(log)


def test_a_log_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    AuditLog.create(log, tmp_path / "verify-key")
    os.mkfifo(log)
    with pytest.raises(StorageError, match="not a regular file"):
        AuditLog(log)

"""The error tree: closed by us, broken by the world, or misused by a caller."""

from __future__ import annotations


class RecorderError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(RecorderError):
    """The room configuration is invalid; the daemon must not start."""


class DeviceError(RecorderError):
    """A camera, microphone or other device is missing or stopped answering."""


class StorageError(RecorderError):
    """Writing an incident or audit entry failed (full disk, permissions, I/O error)."""


class IncidentFormatError(RecorderError):
    """An incident file is not a valid age file, or fails authentication."""


class AuditError(RecorderError):
    """The audit log is malformed or its chain or MAC does not verify."""


class ProtocolError(RecorderError):
    """A control message broke protocol v1; `code` is the stable error code sent back."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class InputError(RecorderError):
    """A file given to a command is not what it must be (e.g. an identity file holding no identity)."""


class RetentionError(RecorderError):
    """A hold, release or deletion was refused: unknown incident, not on hold, already on hold."""


class VaultError(RecorderError):
    """The evidence vault could not be reached, refused a request, or holds something unexpected."""

"""The audit package's one error tree, rooted at `AuditError`."""

from __future__ import annotations


class AuditError(Exception):
    """Root of every error this package raises."""


class AuditUnavailable(AuditError):
    """A record could not be made durable and the log is configured to fail closed."""


class KeyFileError(AuditError):
    """A key file is missing, malformed, or readable by group or others."""


class LogCorrupted(AuditError):
    """The log on disk is damaged somewhere other than a torn tail; refusing to extend it."""


class LogLocked(AuditError):
    """Another writer (in this or another process) holds the log directory."""


class ProofError(AuditError):
    """A Merkle inclusion or consistency proof does not check out."""


class RootMismatchError(ProofError):
    """The proof reproduces a different root from the one expected."""

    def __init__(self, *, expected: bytes, computed: bytes) -> None:
        super().__init__(f"root mismatch: expected {expected.hex()}, computed {computed.hex()}")
        self.expected = expected
        self.computed = computed


class NoteError(AuditError):
    """A signed note is malformed, or no trusted key verifies it."""


class CheckpointError(AuditError):
    """A checkpoint body is malformed."""


class VerificationFailure(AuditError):
    """`verify_log` found the first thing wrong; `where` names the record or checkpoint."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class RecordError(AuditError):
    """One log record is malformed, non-canonical, or not signed by a trusted key."""


class StoreUnavailable(AuditError):
    """The object store could not be reached, or refused a request (shipping, witness)."""


class ShipConflict(AuditError):
    """The shipped copy and this log disagree: the log was rolled back, rewritten or replaced."""

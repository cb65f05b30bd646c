"""Verify status for the console: one record's, each checkpoint's, and the whole log's.

A record is checked on its own when it is shown (canonical form, signature, still the
bytes that were indexed, chained to the record before it, under a signed checkpoint
whose root the log reproduces). The whole log is checked by `verify_log` on a thread
of its own, again when the log has grown and the last run is old enough; pages show
the latest result and never wait for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from policy_engine.audit import (
    DEFAULT_ORIGIN,
    AuditError,
    LogTrust,
    VerificationFailure,
    hash_leaf,
    parse_record,
    record_key_id,
    verify_log,
)
from policy_engine.console._index import LogIndex

NO_KEY = "no public key given: signatures are not checked"

LogState = Literal["not run", "running", "ok", "failed", "no key"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool | None  # None: could not be checked
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(slots=True)
class LogStatus:
    state: LogState = "not run"
    records: int = 0
    checkpoints: int = 0
    root: str = ""
    where: str = ""
    reason: str = ""
    finished: float | None = None  # epoch seconds
    seconds: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "records": self.records,
            "checkpoints": self.checkpoints,
            "root": self.root,
            "where": self.where,
            "reason": self.reason,
            "finished": self.finished,
            "seconds": self.seconds,
        }


@dataclass(slots=True)
class Verifier:
    index: LogIndex
    keys: Sequence[Ed25519PublicKey]
    origin: str = DEFAULT_ORIGIN  # pinned: a checkpoint under any other origin is refused
    min_interval_s: float = 30.0
    status: LogStatus = field(default_factory=LogStatus)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None
    _verified_size: int = -1

    def __post_init__(self) -> None:
        if not self.keys:
            self.status.state = "no key"

    @property
    def trust(self) -> LogTrust:
        return LogTrust(self.origin, tuple(self.keys))

    @property
    def trusted(self) -> dict[str, Ed25519PublicKey]:
        return {record_key_id(key): key for key in self.keys}

    def ensure_fresh(self, size: int) -> None:
        """Start a whole-log verify if the log grew and the last one is old enough."""
        if not self.keys or size == 0:
            return  # nothing to verify yet: an empty log would read as a failure
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            finished = self.status.finished
            if size == self._verified_size or (
                finished is not None and time.time() - finished < self.min_interval_s
            ):
                return
            self._verified_size = size
            self.status.state = "running"
            self._thread = threading.Thread(target=self._run, name="console-verify", daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        started = time.perf_counter()
        status = LogStatus()
        try:
            report = verify_log(self.index.audit_dir, self.trust)
        except VerificationFailure as failure:
            status.state, status.where, status.reason = "failed", failure.where, failure.reason
        except (AuditError, OSError) as error:
            status.state, status.reason = "failed", str(error)
        else:
            status.state = "ok"
            status.records, status.checkpoints = report.records, report.checkpoints
            status.root = report.root_hash.hex()
        status.finished = time.time()
        status.seconds = round(time.perf_counter() - started, 3)
        self.status = status

    def record_checks(self, seq: int) -> list[Check]:
        rows = self.index.query("SELECT leaf, linked FROM records WHERE seq = ?", (seq,))
        line = self.index.line(seq)
        if not rows or line is None:
            return [Check("present", False, "the record is not in the log")]
        checks = [
            Check(
                "unchanged",
                hash_leaf(line) == bytes(rows[0]["leaf"]),
                "the bytes in the segment hash to the indexed leaf",
            ),
            Check("chained", bool(rows[0]["linked"]), "prev is the hash of the record before it"),
        ]
        try:
            record = parse_record(line)
        except AuditError as error:
            return [*checks, Check("well formed", False, str(error))]
        if not self.keys:
            checks.append(Check("signature", None, NO_KEY))
        else:
            try:
                record.verify(self.trusted)
                checks.append(Check("signature", True, f"Ed25519, key id {record.kid}"))
            except AuditError as error:
                checks.append(Check("signature", False, str(error)))
        checks.append(self._covering_checkpoint(seq))
        return checks

    def _covering_checkpoint(self, seq: int) -> Check:
        rows = self.index.query(
            "SELECT name, size, note, root, computed FROM checkpoints WHERE size > ? "
            "ORDER BY size LIMIT 1",
            (seq,),
        )
        if not rows:
            return Check("checkpoint", None, "not under a checkpoint yet; proof after the next one")
        row = rows[0]
        signed = self.checkpoint_signature(row["note"])
        matches = row["root"] is not None and bytes(row["root"]) == bytes(row["computed"])
        detail = f"{row['name']}: tree of {row['size']} records"
        if not matches:
            return Check("checkpoint", False, f"{detail}; its root is not the log's root")
        if not signed.ok:
            return Check("checkpoint", signed.ok, f"{detail}; {signed.detail}")
        return Check("checkpoint", True, f"{detail}; signed, and the log reproduces its root")

    def checkpoint_signature(self, note: str) -> Check:
        if not self.keys:
            return Check("signature", None, NO_KEY)
        try:
            self.trust.open_checkpoint(note.encode())
        except AuditError as error:
            return Check("signature", False, str(error))
        return Check("signature", True, "signed by a trusted key")

"""The log's single writer: seals records, writes and fsyncs them in batches,
rotates segments and writes checkpoints. Batches in, outcomes out; it does no
messaging itself (`_writer_process` runs it in its own process).

The writer keeps the segment it writes to extended with zeros (`prezero_bytes`) and
writes records over them, so their fdatasync need not commit a new file size or
extent through the filesystem journal; rotation and close trim the zero tail.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

import rfc8785

from policy_engine.audit._checkpoint import Checkpoint
from policy_engine.audit._hashing import hash_leaf
from policy_engine.audit._note import NoteSigner, sign_note
from policy_engine.audit._record import RecordSigner
from policy_engine.audit._recovery import LogState
from policy_engine.audit._resume import ResumePoint, write_resume
from policy_engine.audit._settings import AuditSettings
from policy_engine.audit._store import (
    checkpoint_path,
    fsync_directory,
    segment_path,
    write_durably,
)

# Bounds one write (and the acknowledgements one fsync releases) when the sidecar
# outpaces the disk.
MAX_BATCH = 4096
# After pre-zeroing failed (a full disk), records are appended as before pre-zeroing
# existed; it is tried again no sooner than this.
_PREZERO_RETRY_S = 1.0

# What a record comes to: its seq, or (error kind, message) where the kind is
# "unwritten" (not durable; `on_failure` decides what the caller sees) or "invalid"
# (not canonicalisable).
Outcome = int | tuple[str, str]
Emit = Callable[[str, str, dict[str, Any]], None]


class _Clock:
    """UTC timestamps as `2026-01-01T00:00:00.000000Z`; date and time formatted once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        second, micro = divmod(time.time_ns() // 1000, 1_000_000)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{micro:06d}Z"


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


class LogWriter:
    """The single writer of one log directory: batches in, outcomes out, no sockets."""

    def __init__(
        self,
        settings: AuditSettings,
        state: LogState,
        records: RecordSigner,
        notes: NoteSigner,
        emit: Emit,
    ) -> None:
        self._settings = settings
        self._state = state
        self._records = records
        self._notes = notes
        self._emit = emit
        self.healthy = True
        # After a failed write the segment may end in a partial batch: cut back to
        # the last durable byte before the next write.
        self._dirty = False
        self._fd = os.open(
            segment_path(settings.dir, state.segment), os.O_WRONLY | os.O_CREAT, 0o644
        )
        # The segment file's size: its records (state.segment_bytes), then zeros.
        self._file_size = state.segment_bytes
        self._prezero_retry_at = 0.0
        self._clock = _Clock()
        self._last_checkpoint_at = time.monotonic()

    @property
    def size(self) -> int:
        """Records made durable so far (the Merkle tree size)."""
        return self._state.tree.size

    def commit(self, batch: list[tuple[int, str, Any]]) -> list[tuple[int, Outcome]]:
        """Seal, write and fsync `(id, kind, event)` records; one outcome per id."""
        state = self._state
        seq, prev = state.next_seq, state.prev
        lines: list[bytes] = []
        leaves: list[bytes] = []
        sealed: list[tuple[int, int]] = []
        outcomes: list[tuple[int, Outcome]] = []
        for ident, kind, event in batch:
            try:
                line = self._records.seal(
                    seq=seq, prev=prev, at=self._clock.now(), kind=kind, event=event
                )
            except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
                # A bad event is the caller's bug; it fails alone and takes no seq.
                outcomes.append((ident, ("invalid", f"event cannot be canonicalised: {exc}")))
                continue
            leaf = hash_leaf(line)
            lines.append(line + b"\n")
            leaves.append(leaf)
            sealed.append((ident, seq))
            seq, prev = seq + 1, leaf.hex()
        if not sealed:
            return outcomes
        data = b"".join(lines)
        try:
            self._write(data)
        except OSError as exc:
            return outcomes + self._fail(exc, [ident for ident, _ in sealed])
        for leaf in leaves:
            state.tree.append(leaf)
        state.next_seq, state.prev = seq, prev
        state.segment_bytes += len(data)
        if not self.healthy:
            self._emit("info", "audit_log_writable_again", {"segment": state.segment})
        self.healthy = True
        return outcomes + list(sealed)

    def _write(self, data: bytes) -> None:
        state = self._state
        if self._dirty:
            self._cut_to_records()
        if (
            state.segment_bytes
            and state.segment_bytes + len(data) > self._settings.segment_max_bytes
        ):
            self._rotate()
        self._dirty = True
        try:
            _pwrite_all(self._fd, data, state.segment_bytes)
            os.fdatasync(self._fd)
        except OSError:
            # Cut the failed batch now rather than on the next write: while the disk
            # stays full, and after a clean shutdown, a torn line would fail verify.
            # Shrinking a file needs no free space; if it fails, the next write retries.
            with contextlib.suppress(OSError):
                self._cut_to_records()
            raise
        self._dirty = False
        self._file_size = max(self._file_size, state.segment_bytes + len(data))

    def _cut_to_records(self) -> None:
        """Truncate the segment after its last durable record (dropping the zero tail too)."""
        os.ftruncate(self._fd, self._state.segment_bytes)
        self._file_size = self._state.segment_bytes
        self._dirty = False

    def _trim(self) -> None:
        """Durably end the segment at its last record, for rotation and close."""
        if self._dirty or self._file_size > self._state.segment_bytes:
            self._cut_to_records()
            os.fdatasync(self._fd)

    def prezero(self) -> None:
        """Once less than half of `prezero_bytes` of zeros is left ahead of the records,
        write and fdatasync that much more (never past `segment_max_bytes`).

        A failure (a full disk) only costs the speed-up: the zeros are cut back and
        records are appended, failing as they always did if they do not fit either.
        """
        chunk = self._settings.prezero_bytes
        start = self._file_size
        end = min(start + chunk, self._settings.segment_max_bytes)
        if (
            self._dirty
            or start - self._state.segment_bytes >= chunk // 2
            or end <= start
            or time.monotonic() < self._prezero_retry_at
        ):
            return
        try:
            _pwrite_all(self._fd, bytes(end - start), start)
            os.fdatasync(self._fd)
        except OSError as exc:
            self._prezero_retry_at = time.monotonic() + _PREZERO_RETRY_S
            self._emit("warning", "audit_prezero_failed", {"error": str(exc), "errno": exc.errno})
            try:
                os.ftruncate(self._fd, start)
            except OSError:
                self._file_size = end  # some zeros may be left: trim them on close
            return
        self._file_size = end

    def _rotate(self) -> None:
        state = self._state
        self._trim()
        fd = os.open(
            segment_path(self._settings.dir, state.segment + 1),
            os.O_WRONLY | os.O_CREAT,
            0o644,
        )
        fsync_directory(self._settings.dir)
        os.close(self._fd)
        self._fd = fd
        state.segment += 1
        state.segment_bytes = 0
        self._file_size = 0

    def _fail(self, exc: OSError, failed: list[int]) -> list[tuple[int, Outcome]]:
        self.healthy = False
        self._emit(
            "error",
            "audit_write_failed",
            {
                "error": str(exc),
                "errno": exc.errno,
                "records": len(failed),
                "on_failure": self._settings.on_failure,
            },
        )
        outcome = ("unwritten", f"audit record not durable: {exc.strerror or exc}")
        return [(ident, outcome) for ident in failed]

    def checkpoint_wait(self) -> float | None:
        """Seconds until a checkpoint is due, or None while every record is covered."""
        if self._state.tree.size == self._state.checkpoint_size:
            return None
        elapsed = time.monotonic() - self._last_checkpoint_at
        return max(self._settings.checkpoint_every_seconds - elapsed, 0.001)

    def maybe_checkpoint(self) -> None:
        state = self._state
        pending = state.tree.size - state.checkpoint_size
        due = time.monotonic() - self._last_checkpoint_at >= self._settings.checkpoint_every_seconds
        if pending >= self._settings.checkpoint_every_records or (pending and due):
            self._checkpoint()

    def _checkpoint(self) -> None:
        state = self._state
        self._last_checkpoint_at = time.monotonic()
        if state.tree.size == state.checkpoint_size:
            return
        body = Checkpoint(self._settings.origin, state.tree.size, state.tree.root()).body()
        note = sign_note(body, [self._notes])
        # The resume file first, and its failure is not the checkpoint's: a checkpoint
        # without one only costs the next start a longer read, never a wrong state.
        try:
            write_resume(self._settings.dir, self._resume_point())
        except OSError as exc:
            self._emit(
                "warning", "audit_resume_file_failed", {"error": str(exc), "size": state.tree.size}
            )
        try:
            write_durably(checkpoint_path(self._settings.dir, state.tree.size), note.encode())
        except OSError as exc:
            self.healthy = False
            self._emit(
                "error", "audit_checkpoint_failed", {"error": str(exc), "size": state.tree.size}
            )
            return
        state.checkpoint_size = state.tree.size

    def _resume_point(self) -> ResumePoint:
        state = self._state
        if state.segment_bytes:
            return ResumePoint(state.tree.copy(), state.segment, state.segment_bytes, state.prev)
        # Just rotated, with no record in the new segment yet: the last one ends the
        # previous segment, which rotation trimmed to its records.
        previous = segment_path(self._settings.dir, state.segment - 1)
        return ResumePoint(
            state.tree.copy(), state.segment - 1, previous.stat().st_size, state.prev
        )

    def close(self) -> None:
        """The final checkpoint, then end the segment at its last record."""
        try:
            self._checkpoint()
            try:
                self._trim()
            except OSError as exc:
                # Readers take the zero tail as the end of the data; recovery trims it.
                self._emit("warning", "audit_trim_failed", {"error": str(exc), "errno": exc.errno})
        finally:
            os.close(self._fd)

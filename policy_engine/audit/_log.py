"""The audit log writer: group-committed, signed, hash-chained, Merkle-checkpointed.

Sealing (canonicalise, sign, hash) and the write+fsync run on one writer thread:
the chain makes sealing sequential anyway, and it keeps fsync off the event loop.
`append` resolves only after the batch holding its record is durable.

Records are written over zeros the writer keeps ahead of them in the segment (see
`AuditSettings.prezero_bytes`), so their fdatasync need not commit a new file size
or extent through the filesystem journal; rotation and close trim the zero tail.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import rfc8785
import structlog

from policy_engine.audit._checkpoint import Checkpoint
from policy_engine.audit._errors import AuditError, AuditUnavailable
from policy_engine.audit._hashing import hash_leaf
from policy_engine.audit._keys import load_private_key
from policy_engine.audit._note import NoteSigner, sign_note
from policy_engine.audit._record import RecordSigner
from policy_engine.audit._recovery import LogState, recover
from policy_engine.audit._settings import AuditSettings
from policy_engine.audit._store import (
    CHECKPOINT_DIR,
    checkpoint_path,
    fsync_directory,
    lock_directory,
    segment_path,
    write_durably,
)

UNRECORDED = -1
"""What `append` returns under `fail_open` when the record could not be made durable."""

# Bounds one write (and the futures one fsync releases) when producers outpace the disk.
_MAX_BATCH = 4096
# After pre-zeroing failed (a full disk), records are appended as before pre-zeroing
# existed; it is tried again no sooner than this.
_PREZERO_RETRY_S = 1.0

_log = structlog.get_logger("policy_engine.audit")


@dataclass
class _Pending:
    kind: str
    event: dict[str, Any]
    future: asyncio.Future[int]
    loop: asyncio.AbstractEventLoop


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


_Outcome = int | BaseException


def _resolve_all(settled: list[tuple[asyncio.Future[int], _Outcome]]) -> None:
    for future, outcome in settled:
        if future.done():  # the awaiting request was cancelled
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _settle(settled: list[tuple[_Pending, _Outcome]]) -> None:
    """Hand outcomes back to their event loops: one wake-up per loop per batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[int], _Outcome]]] = {}
    for pending, outcome in settled:
        by_loop.setdefault(pending.loop, []).append((pending.future, outcome))
    for loop, items in by_loop.items():
        loop.call_soon_threadsafe(_resolve_all, items)


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


class AuditLog:
    """The single writer of one log directory; create it with `await AuditLog.open(...)`."""

    def __init__(
        self,
        settings: AuditSettings,
        state: LogState,
        records: RecordSigner,
        notes: NoteSigner,
        lock_fd: int,
    ) -> None:
        self._settings = settings
        self._lock_fd = lock_fd
        self._state = state
        self._records = records
        self._notes = notes
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._healthy = True
        self._closed = False
        # Orders "closed" against enqueueing, so no record can queue behind the stop marker.
        self._lock = threading.Lock()
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
        self._last_batch_size = 0
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)

    @classmethod
    async def open(cls, settings: AuditSettings) -> AuditLog:
        key = load_private_key(settings.signing_key_file)
        lock_fd = lock_directory(settings.dir)
        try:
            state = await asyncio.to_thread(recover, settings.dir)
            (settings.dir / CHECKPOINT_DIR).mkdir(exist_ok=True)
        except BaseException:
            os.close(lock_fd)
            raise
        log = cls(settings, state, RecordSigner(key), NoteSigner(settings.origin, key), lock_fd)
        log._thread.start()
        if state.recovered is not None:
            _log.warning("audit_torn_tail_cut", cut=state.recovered)
            try:
                await log._enqueue("recovery", state.recovered)
            except AuditError:
                await log.close()  # do not leave the writer thread behind a failed open
                raise
        return log

    @property
    def healthy(self) -> bool:
        return self._healthy

    @property
    def size(self) -> int:
        """Records made durable so far (the Merkle tree size)."""
        return self._state.tree.size

    def submit(self, event: dict[str, Any]) -> asyncio.Future[int]:
        """Queue a request's record now; the future resolves to its seq once it is durable.

        Not a coroutine, so a caller can shield the future itself rather than a task
        wrapping it: one task and one loop iteration less per request.
        """
        return self._enqueue("request", event)

    async def append(self, event: dict[str, Any]) -> int:
        return await self.submit(event)

    async def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        await asyncio.to_thread(self._thread.join)

    def _enqueue(self, kind: str, event: dict[str, Any]) -> asyncio.Future[int]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        with self._lock:
            if self._closed:
                raise AuditUnavailable("the audit log is closed")
            self._queue.put(_Pending(kind, event, future, loop))
        return future

    def _run(self) -> None:
        try:
            self._prezero()
            while (batch := self._gather()) is not None:
                # Pre-zeroing after a commit has settled its futures keeps it off
                # that batch's latency.
                if self._settings.fsync == "every_record":
                    for pending in batch:
                        self._commit([pending])
                        self._prezero()
                else:
                    self._commit(batch)
                    self._prezero()
                self._maybe_checkpoint()
        finally:
            self._checkpoint()
            try:
                self._trim()
            except OSError as exc:
                # Readers take the zero tail as the end of the data; recovery trims it.
                _log.warning("audit_trim_failed", error=str(exc), errno=exc.errno)
            os.close(self._fd)
            os.close(self._lock_fd)

    def _gather(self) -> list[_Pending] | None:
        """Wait for records; return a batch, or None once `close` asked to stop."""
        while True:
            try:
                first = self._queue.get(timeout=self._checkpoint_wait())
                break
            except queue.Empty:
                self._maybe_checkpoint()
        if first is None:
            return None
        batch = [first]
        window = self._settings.batch_interval_ms / 1000
        if self._settings.fsync == "every_record" or self._last_batch_size <= 1:
            # Waiting pays only when records arrive concurrently; a lone record (or a
            # per-record fsync) would just gain latency. Records that arrive during
            # this batch's fsync still form the next batch.
            window = 0.0
        deadline = time.monotonic() + window
        while len(batch) < _MAX_BATCH:
            remaining = deadline - time.monotonic()
            try:
                if remaining > 0:
                    item = self._queue.get(timeout=remaining)
                else:
                    item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)  # finish this batch first, stop on the next gather
                break
            batch.append(item)
        self._last_batch_size = len(batch)
        return batch

    def _checkpoint_wait(self) -> float | None:
        if self._state.tree.size == self._state.checkpoint_size:
            return None
        elapsed = time.monotonic() - self._last_checkpoint_at
        return max(self._settings.checkpoint_every_seconds - elapsed, 0.001)

    def _commit(self, batch: list[_Pending]) -> None:
        state = self._state
        seq, prev = state.next_seq, state.prev
        lines: list[bytes] = []
        leaves: list[bytes] = []
        sealed: list[tuple[_Pending, int]] = []
        for pending in batch:
            try:
                line = self._records.seal(
                    seq=seq, prev=prev, at=self._clock.now(), kind=pending.kind, event=pending.event
                )
            except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
                # A bad event is the caller's bug; it fails alone and takes no seq.
                error = AuditError(f"event cannot be canonicalised: {exc}")
                _settle([(pending, error)])
                continue
            leaf = hash_leaf(line)
            lines.append(line + b"\n")
            leaves.append(leaf)
            sealed.append((pending, seq))
            seq, prev = seq + 1, leaf.hex()
        if not sealed:
            return
        data = b"".join(lines)
        try:
            self._write(data)
        except OSError as exc:
            self._fail(exc, [pending for pending, _ in sealed])
            return
        for leaf in leaves:
            state.tree.append(leaf)
        state.next_seq, state.prev = seq, prev
        state.segment_bytes += len(data)
        if not self._healthy:
            _log.info("audit_log_writable_again", segment=state.segment)
        self._healthy = True
        _settle([(pending, record_seq) for pending, record_seq in sealed])

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

    def _prezero(self) -> None:
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
            _log.warning("audit_prezero_failed", error=str(exc), errno=exc.errno)
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

    def _fail(self, exc: OSError, failed: list[_Pending]) -> None:
        self._healthy = False
        _log.error(
            "audit_write_failed",
            error=str(exc),
            errno=exc.errno,
            records=len(failed),
            on_failure=self._settings.on_failure,
        )
        outcome: _Outcome = UNRECORDED
        if self._settings.on_failure == "fail_closed":
            outcome = AuditUnavailable(f"audit record not durable: {exc.strerror or exc}")
        _settle([(pending, outcome) for pending in failed])

    def _maybe_checkpoint(self) -> None:
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
        try:
            write_durably(checkpoint_path(self._settings.dir, state.tree.size), note.encode())
        except OSError as exc:
            self._healthy = False
            _log.error("audit_checkpoint_failed", error=str(exc), size=state.tree.size)
            return
        state.checkpoint_size = state.tree.size

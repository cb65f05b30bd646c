"""The audit writer process: runs a `LogWriter` for one sidecar, fed over a socket.

It runs apart from the sidecar so that sealing and the write path never hold the
sidecar's GIL: as a thread in the sidecar it cost about a fifth of the sidecar's
throughput at 16 clients (bench/PERF_NOTES.md, "Third round"). `AuditLog` starts it
with `main([SOCKET_FD, LOCK_FD, SIDECAR_PID])` in a new interpreter and speaks `_wire`
frames over the socket: the writer answers every record with its seq (once durable)
or an error, and sends its log lines to the sidecar, which logs them.

It ends when the sidecar closes its end of the socket, after committing what it was
sent and writing a final checkpoint; if the sidecar dies, the kernel kills it too,
and it loses at most an unacknowledged batch, as a thread would.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import time
from collections import deque
from typing import Any

import orjson

from policy_engine.audit._errors import AuditError, AuditUnavailable
from policy_engine.audit._keys import load_private_key
from policy_engine.audit._note import NoteSigner
from policy_engine.audit._record import RecordSigner
from policy_engine.audit._recovery import recover
from policy_engine.audit._settings import AuditSettings
from policy_engine.audit._store import CHECKPOINT_DIR
from policy_engine.audit._wire import FrameBuffer, frame
from policy_engine.audit._writer import MAX_BATCH, LogWriter

_RECEIVE_BYTES = 1 << 20
_PR_SET_PDEATHSIG = 1


class _Channel:
    """The writer's end of the socket: blocking reads of records, frames written back."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._frames = FrameBuffer()
        self._records: deque[tuple[int, str, Any]] = deque()
        self.closed = False

    def send(self, message: dict[str, Any]) -> None:
        try:
            self._sock.sendall(frame(orjson.dumps(message)))
        except (BrokenPipeError, ConnectionResetError):
            # The sidecar closed both directions: nobody waits for an answer any more;
            # commit what was received and finish as on a clean close.
            self.closed = True

    def receive_settings(self) -> AuditSettings | None:
        """The settings frame, or None if the sidecar closed the channel first."""
        while True:
            data = self._sock.recv(_RECEIVE_BYTES)
            if not data:
                return None
            payloads = self._frames.feed(data)
            if payloads:
                return AuditSettings.model_validate_json(payloads[0])

    def wait(self, timeout: float | None) -> bool:
        """Block until records are queued (True), the sidecar closed, or `timeout` passed."""
        self._sock.settimeout(timeout)
        while not self._records and not self.closed:
            try:
                self._read(self._sock.recv(_RECEIVE_BYTES))
            except TimeoutError:
                return False
        return bool(self._records)

    def gather(self, window: float) -> list[tuple[int, str, Any]]:
        """The queued records plus what arrives within `window` seconds, at most a batch."""
        deadline = time.monotonic() + window
        while len(self._records) < MAX_BATCH and not self.closed:
            # A timeout of 0 makes the socket non-blocking: with any other timeout,
            # Python polls for readability before every recv.
            self._sock.settimeout(max(deadline - time.monotonic(), 0.0))
            try:
                data = self._sock.recv(_RECEIVE_BYTES)
            except (TimeoutError, BlockingIOError):
                break
            self._read(data)
        count = min(len(self._records), MAX_BATCH)
        return [self._records.popleft() for _ in range(count)]

    def _read(self, data: bytes) -> None:
        if not data:
            self.closed = True
            return
        for payload in self._frames.feed(data):
            records = orjson.loads(payload)
            self._records.extend((ident, kind, event) for ident, kind, event in records)


def serve(channel: _Channel, writer: LogWriter, settings: AuditSettings) -> None:
    """Commit batches until the sidecar closes the channel; acknowledge each batch."""
    last_batch = 0
    reported_health = writer.healthy
    writer.prezero()
    while True:
        if channel.wait(writer.checkpoint_wait()):
            # Waiting pays only when records arrive concurrently; a lone record (or a
            # per-record fsync) would just gain latency. Records that arrive during
            # this batch's fsync still form the next batch.
            window = settings.batch_interval_ms / 1000
            if settings.fsync == "every_record" or last_batch <= 1:
                window = 0.0
            batch = channel.gather(window)
            last_batch = len(batch)
            parts = [[record] for record in batch] if settings.fsync == "every_record" else [batch]
            for part in parts:
                done = writer.commit(part)
                channel.send({"done": done, "size": writer.size, "healthy": writer.healthy})
                reported_health = writer.healthy
                # Pre-zeroing once a commit is acknowledged keeps it off that batch's latency.
                writer.prezero()
        elif channel.closed:
            break
        writer.maybe_checkpoint()
        if writer.healthy != reported_health:
            channel.send({"size": writer.size, "healthy": writer.healthy})
            reported_health = writer.healthy
    writer.close()
    channel.send({"size": writer.size, "healthy": writer.healthy})


def _die_with_parent() -> None:
    """Have the kernel kill this process when the sidecar dies (Linux prctl), as it
    would kill a writer thread: a kill -9 of the sidecar must not leave a writer behind
    holding the directory lock."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


def _open(channel: _Channel, settings: AuditSettings) -> LogWriter:
    def emit(level: str, event: str, fields: dict[str, Any]) -> None:
        channel.send({"log": [level, event, fields]})

    key = load_private_key(settings.signing_key_file)
    state = recover(settings.dir)
    (settings.dir / CHECKPOINT_DIR).mkdir(exist_ok=True)
    writer = LogWriter(settings, state, RecordSigner(key), NoteSigner(settings.origin, key), emit)
    emit(
        "info",
        "audit_log_opened",
        {"records": state.tree.size, "read_from": state.resumed_from},
    )
    for cut in state.recovered:
        emit("warning", "audit_torn_tail_cut", {"cut": cut})
    outcomes = writer.commit([(0, "recovery", cut) for cut in state.recovered])
    for _, outcome in outcomes:
        if isinstance(outcome, tuple):
            kind, message = outcome
            if kind == "invalid" or settings.on_failure == "fail_closed":
                writer.close()
                raise (AuditUnavailable if kind == "unwritten" else AuditError)(message)
    return writer


def main(argv: list[str]) -> None:
    socket_fd, lock_fd, sidecar_pid = (int(arg) for arg in argv)
    _die_with_parent()
    # The sidecar decides when the writer stops (by closing the channel): a Ctrl-C or a
    # SIGTERM sent to the whole process group must not cut its final checkpoint short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # A file size limit must fail the write (EFBIG, handled like a full disk), not kill us.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    if os.getppid() != sidecar_pid:
        return  # the sidecar died before prctl took effect
    channel = _Channel(socket.socket(fileno=socket_fd))
    settings = channel.receive_settings()
    if settings is None:
        return  # the sidecar gave up on this writer before it started
    try:
        writer = _open(channel, settings)
    except AuditError as exc:
        channel.send({"error": [type(exc).__name__, str(exc)]})
        return
    except OSError as exc:
        channel.send({"error": ["AuditError", f"cannot open the audit log: {exc}"]})
        return
    channel.send({"ready": True, "size": writer.size, "healthy": writer.healthy})
    try:
        serve(channel, writer, settings)
    finally:
        os.close(lock_fd)

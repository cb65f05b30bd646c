"""The audit log as the sidecar sees it: records handed to the writer process
(`_writer_process`), each future resolved once the writer has made its record durable.

`submit` serialises the event and queues it; the records queued in one event-loop
iteration go out in one frame. The writer group-commits what it has received and
answers each batch in one frame. The sidecar's only audit work is therefore a JSON
dump, a socket write per loop iteration and a read per batch; sealing, writing and
fsync happen in another process, under another GIL.

A writer that dies is restarted (its recovery cuts any torn batch); the records it
had not acknowledged are failed as unwritten, and so are records submitted until the
new writer is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal, get_args

import orjson
import structlog

from policy_engine.audit._errors import (
    AuditError,
    AuditUnavailable,
    KeyFileError,
    LogCorrupted,
    LogLocked,
)
from policy_engine.audit._settings import AuditSettings
from policy_engine.audit._store import lock_directory
from policy_engine.audit._wire import FrameBuffer, frame

UNRECORDED = -1
"""What `append` returns under `fail_open` when the record could not be made durable."""

RecordKind = Literal["intent", "request"]
"""What the sidecar records: a request's intent (decision and route, before any byte
leaves) and its outcome. The writer alone writes "recovery" records."""
_SUBMITTED_KINDS = get_args(RecordKind)

_log = structlog.get_logger("policy_engine.audit")

# How long a writer that failed to open the log gets to exit before it is killed.
_WRITER_EXIT_S = 10.0
# Waits before restarting a writer that died: doubled after each failed restart.
_RESTART_FIRST_S = 0.1
_RESTART_MAX_S = 30.0
_NOT_RUNNING = "the audit writer is not running"

# The writer imports only the audit modules it uses: run as `-m`, the package
# `__init__`s would load the whole sidecar first (a writer's RSS after 5,000 records:
# 60 against 47 MB; start and imports 0.24 against 0.12 s).
# Bare package modules in sys.modules make Python skip them.
_AUDIT_DIR = Path(__file__).resolve().parent
_BOOTSTRAP = (
    "import sys, types\n"
    f"for name, path in (('policy_engine', {str(_AUDIT_DIR.parent)!r}),"
    f" ('policy_engine.audit', {str(_AUDIT_DIR)!r})):\n"
    "    sys.modules[name] = package = types.ModuleType(name)\n"
    "    package.__path__ = [path]\n"
    "from policy_engine.audit._writer_process import main\n"
    "main(sys.argv[1:])\n"
)

# The errors the writer can report from opening the log, by the name it sends.
_OPEN_ERRORS: dict[str, type[AuditError]] = {
    error.__name__: error
    for error in (AuditError, AuditUnavailable, KeyFileError, LogCorrupted, LogLocked)
}


class _Writer:
    """One writer process and the channel to it."""

    def __init__(self, process: subprocess.Popen[bytes], loop: asyncio.AbstractEventLoop) -> None:
        self.process = process
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[None] = loop.create_future()
        self.ended: asyncio.Future[None] = loop.create_future()

    async def stop(self) -> None:
        """After a failed start: close the channel, on which it exits, or kill it."""
        if self.transport is not None:
            self.transport.close()
        try:
            await asyncio.to_thread(self.process.wait, _WRITER_EXIT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            await asyncio.to_thread(self.process.wait)


class _Channel(asyncio.Protocol):
    def __init__(self, log: AuditLog, writer: _Writer) -> None:
        self._log = log
        self._writer = writer
        self._frames = FrameBuffer()

    def data_received(self, data: bytes) -> None:
        for payload in self._frames.feed(data):
            self._log._received(self._writer, orjson.loads(payload))

    def connection_lost(self, exc: Exception | None) -> None:
        self._log._writer_gone(self._writer)


def _spawn(lock_fd: int) -> tuple[subprocess.Popen[bytes], socket.socket]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with theirs:
        try:
            # Started from the event loop's thread, which lives as long as the sidecar:
            # the writer's parent-death signal follows the thread that forked it.
            # Popen returns once the writer is exec'd (milliseconds, once per start).
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _BOOTSTRAP,
                    str(theirs.fileno()),
                    str(lock_fd),
                    str(os.getpid()),
                ],
                pass_fds=(theirs.fileno(), lock_fd),
                stdin=subprocess.DEVNULL,
            )
        except BaseException:
            ours.close()
            raise
    return process, ours


class AuditLog:
    """The sidecar's handle on one log directory; create it with `await AuditLog.open(...)`."""

    def __init__(self, settings: AuditSettings, lock_fd: int) -> None:
        self._settings = settings
        self._lock_fd = lock_fd
        self._loop = asyncio.get_running_loop()
        self._writer: _Writer | None = None  # the latest one started
        self._live: _Writer | None = None  # the one taking records, once ready
        self._restart: asyncio.Task[None] | None = None
        self._waiting: dict[int, asyncio.Future[int]] = {}
        self._outbox: list[bytes] = []
        self._next_id = 0
        self._healthy = True
        self._size = 0
        self._closed = False

    @classmethod
    async def open(cls, settings: AuditSettings) -> AuditLog:
        """Take the directory's lock, start the writer, and wait until it has recovered
        the log (cutting a torn tail with a recovery record) and is ready."""
        lock_fd = lock_directory(settings.dir)
        try:
            log = cls(settings, lock_fd)
            await log._start_writer()
        except BaseException:
            os.close(lock_fd)
            raise
        return log

    async def _start_writer(self) -> None:
        process, sock = _spawn(self._lock_fd)
        writer = self._writer = _Writer(process, self._loop)
        try:
            transport, _ = await self._loop.create_unix_connection(
                lambda: _Channel(self, writer), sock=sock
            )
        except BaseException:
            sock.close()
            await writer.stop()
            raise
        writer.transport = transport
        # uvloop holds a write below the high-water mark until the end of the loop turn,
        # so a batch left only after the rest of that turn's work, and the writer began
        # sealing it that much later while its requests waited. With no high-water mark a
        # batch leaves when it is flushed: +16% req/s at 16 clients, CPU per request
        # unchanged (bench/PERF_NOTES.md, sixth round). Nothing here waits on
        # pause_writing, so no batch is ever held back.
        transport.set_write_buffer_limits(high=0)
        transport.write(frame(self._settings.model_dump_json().encode()))
        try:
            await writer.ready
        except BaseException:
            await writer.stop()
            raise

    @property
    def healthy(self) -> bool:
        return self._healthy

    @property
    def size(self) -> int:
        """Records made durable so far (the Merkle tree size), as the writer last said."""
        return self._size

    @property
    def writer_pid(self) -> int:
        """The process id of the latest writer started."""
        assert self._writer is not None, "set by open()"
        return self._writer.process.pid

    def submit(self, event: dict[str, Any], kind: RecordKind = "request") -> asyncio.Future[int]:
        """Queue a record now; the future resolves to its seq once it is durable.

        Not a coroutine, so a caller can await the future itself rather than a task
        wrapping it: one task and one loop iteration less per request.
        """
        if self._closed:
            raise AuditUnavailable("the audit log is closed")
        future: asyncio.Future[int] = self._loop.create_future()
        if kind not in _SUBMITTED_KINDS:
            future.set_exception(AuditError(f"the sidecar does not write {kind!r} records"))
            return future
        if self._live is None:
            self._settle_unwritten(future, _NOT_RUNNING)
            return future
        try:
            # Integers beyond 2**53 are refused here as RFC 8785 would refuse them.
            data = orjson.dumps(event, option=orjson.OPT_STRICT_INTEGER)
        except orjson.JSONEncodeError as exc:
            future.set_exception(AuditError(f"event cannot be canonicalised: {exc}"))
            return future
        ident = self._next_id
        self._next_id += 1
        self._waiting[ident] = future
        if not self._outbox:
            self._loop.call_soon(self._flush)
        self._outbox.append(b'[%d,"%b",%b]' % (ident, kind.encode(), data))
        return future

    async def append(self, event: dict[str, Any], kind: RecordKind = "request") -> int:
        return await self.submit(event, kind)

    async def close(self) -> None:
        """Have the writer commit what it was sent, checkpoint, and exit."""
        if self._closed:
            return
        self._closed = True
        if self._restart is not None:
            self._restart.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._restart
        self._flush()
        writer = self._live
        if writer is not None and writer.transport is not None:
            writer.transport.write_eof()
            await writer.ended
            await asyncio.to_thread(writer.process.wait)
        os.close(self._lock_fd)

    def _flush(self) -> None:
        if not self._outbox:
            return
        payload = b"[" + b",".join(self._outbox) + b"]"
        self._outbox.clear()
        # Without a live writer, these records were already failed when it went.
        if self._live is not None and self._live.transport is not None:
            self._live.transport.write(frame(payload))

    def _received(self, writer: _Writer, message: dict[str, Any]) -> None:
        if "log" in message:
            level, event, fields = message["log"]
            getattr(_log, level)(event, **fields)
        for ident, outcome in message.get("done", ()):
            future = self._waiting.pop(ident, None)
            if future is None or future.done():  # the awaiting request was cancelled
                continue
            if type(outcome) is int:
                future.set_result(outcome)
            elif outcome[0] == "unwritten":
                self._settle_unwritten(future, outcome[1])
            else:
                future.set_exception(AuditError(outcome[1]))
        if "size" in message:
            self._size = message["size"]
            self._healthy = message["healthy"]
        if "ready" in message:
            self._live = writer
            writer.ready.set_result(None)
        elif "error" in message:
            name, reason = message["error"]
            writer.ready.set_exception(_OPEN_ERRORS.get(name, AuditError)(reason))

    def _writer_gone(self, writer: _Writer) -> None:
        if not writer.ended.done():
            writer.ended.set_result(None)
        if not writer.ready.done():
            writer.ready.set_exception(AuditError("the audit writer exited while opening the log"))
            return
        if writer is not self._live:
            return
        self._live = None
        if self._closed and not self._waiting:
            return
        self._healthy = False
        _log.error(
            "audit_writer_exited",
            pid=writer.process.pid,
            records=len(self._waiting),
            on_failure=self._settings.on_failure,
            hint="records it had not acknowledged are failed as unwritten; restarting it",
        )
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            self._settle_unwritten(future, _NOT_RUNNING)
        if not self._closed:
            self._restart = self._loop.create_task(self._restart_writer(writer))

    async def _restart_writer(self, dead: _Writer) -> None:
        await asyncio.to_thread(dead.process.wait)
        delay = _RESTART_FIRST_S
        while True:
            await asyncio.sleep(delay)
            try:
                await self._start_writer()
            except (AuditError, OSError) as exc:
                delay = min(delay * 2, _RESTART_MAX_S)
                _log.error("audit_writer_restart_failed", error=str(exc), retry_in_s=delay)
                continue
            _log.info("audit_writer_restarted", pid=self.writer_pid)
            return

    def _settle_unwritten(self, future: asyncio.Future[int], reason: str) -> None:
        """A record that is not durable: an error under `fail_closed`, UNRECORDED under
        `fail_open` (the one place that policy is applied to records)."""
        if future.done():
            return
        if self._settings.on_failure == "fail_closed":
            future.set_exception(AuditUnavailable(reason))
        else:
            future.set_result(UNRECORDED)

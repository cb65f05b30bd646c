"""The audit log as the sidecar sees it: records handed to the writer process
(`_writer_process`), each future resolved once the writer has made its record durable.

`submit` serialises the event and queues it; the records queued in one event-loop
iteration go out in one frame. The writer group-commits what it has received and
answers each batch in one frame. The sidecar's only audit work is therefore a JSON
dump, a socket write per loop iteration and a read per batch; sealing, writing and
fsync happen in another process, under another GIL.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from typing import Any

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
from policy_engine.audit._writer import UNRECORDED

__all__ = ["UNRECORDED", "AuditLog"]

_log = structlog.get_logger("policy_engine.audit")

# How long a writer that failed to open the log gets to exit before it is killed.
_WRITER_EXIT_S = 10.0

# The errors the writer can report from opening the log, by the name it sends.
_OPEN_ERRORS: dict[str, type[AuditError]] = {
    error.__name__: error
    for error in (AuditError, AuditUnavailable, KeyFileError, LogCorrupted, LogLocked)
}


class _Channel(asyncio.Protocol):
    def __init__(self, log: AuditLog) -> None:
        self._log = log
        self._frames = FrameBuffer()

    def data_received(self, data: bytes) -> None:
        for payload in self._frames.feed(data):
            self._log._received(orjson.loads(payload))

    def connection_lost(self, exc: Exception | None) -> None:
        self._log._writer_gone()


class AuditLog:
    """The sidecar's handle on one log directory; create it with `await AuditLog.open(...)`."""

    def __init__(
        self, settings: AuditSettings, process: subprocess.Popen[bytes], lock_fd: int
    ) -> None:
        self._settings = settings
        self._process = process
        self._lock_fd = lock_fd
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._ready: asyncio.Future[None] = self._loop.create_future()
        self._ended: asyncio.Future[None] = self._loop.create_future()
        self._waiting: dict[int, asyncio.Future[int]] = {}
        self._outbox: list[bytes] = []
        self._next_id = 0
        self._healthy = True
        self._size = 0
        self._closed = False
        self._gone = False

    @classmethod
    async def open(cls, settings: AuditSettings) -> AuditLog:
        """Take the directory's lock, start the writer, and wait until it has recovered
        the log (cutting a torn tail with a recovery record) and is ready."""
        lock_fd = lock_directory(settings.dir)
        try:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            with theirs:
                # Started from the event loop's thread, which lives as long as the
                # sidecar: the writer's parent-death signal follows the thread that
                # forked it. Popen returns once the writer is exec'd (milliseconds,
                # once at startup).
                process = subprocess.Popen(  # noqa: ASYNC220
                    [
                        sys.executable,
                        "-m",
                        "policy_engine.audit._writer_process",
                        str(theirs.fileno()),
                        str(lock_fd),
                        str(os.getpid()),
                    ],
                    pass_fds=(theirs.fileno(), lock_fd),
                    stdin=subprocess.DEVNULL,
                )
        except BaseException:
            os.close(lock_fd)
            raise
        log = cls(settings, process, lock_fd)
        try:
            await log._start(ours)
        except BaseException:
            await log._abandon()
            raise
        return log

    async def _start(self, sock: socket.socket) -> None:
        try:
            transport, _ = await self._loop.create_unix_connection(
                lambda: _Channel(self), sock=sock
            )
        except BaseException:
            sock.close()
            raise
        self._transport = transport
        transport.write(frame(self._settings.model_dump_json().encode()))
        await self._ready

    async def _abandon(self) -> None:
        """After a failed open: stop the writer and release the lock."""
        self._closed = True
        if self._transport is not None:
            self._transport.close()
        try:
            # It exits on the closed channel; a writer stuck anywhere else is killed.
            await asyncio.to_thread(self._process.wait, _WRITER_EXIT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            await asyncio.to_thread(self._process.wait)
        finally:
            os.close(self._lock_fd)

    @property
    def healthy(self) -> bool:
        return self._healthy

    @property
    def size(self) -> int:
        """Records made durable so far (the Merkle tree size), as the writer last said."""
        return self._size

    @property
    def writer_pid(self) -> int:
        return self._process.pid

    def submit(self, event: dict[str, Any]) -> asyncio.Future[int]:
        """Queue a request's record now; the future resolves to its seq once it is durable.

        Not a coroutine, so a caller can await the future itself rather than a task
        wrapping it: one task and one loop iteration less per request.
        """
        if self._closed:
            raise AuditUnavailable("the audit log is closed")
        future: asyncio.Future[int] = self._loop.create_future()
        if self._gone:
            self._settle_unwritten(future)
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
        self._outbox.append(b"[%d,%b]" % (ident, data))
        return future

    async def append(self, event: dict[str, Any]) -> int:
        return await self.submit(event)

    async def close(self) -> None:
        """Have the writer commit what it was sent, checkpoint, and exit."""
        if self._closed:
            return
        self._closed = True
        self._flush()
        if self._transport is not None and not self._gone:
            self._transport.write_eof()
        await self._ended
        await asyncio.to_thread(self._process.wait)
        os.close(self._lock_fd)

    def _flush(self) -> None:
        if not self._outbox:
            return
        payload = b"[" + b",".join(self._outbox) + b"]"
        self._outbox.clear()
        if self._transport is not None and not self._gone:
            self._transport.write(frame(payload))

    def _received(self, message: dict[str, Any]) -> None:
        if "log" in message:
            level, event, fields = message["log"]
            getattr(_log, level)(event, **fields)
        for ident, outcome in message.get("done", ()):
            future = self._waiting.pop(ident, None)
            if future is None or future.done():  # the awaiting request was cancelled
                continue
            if type(outcome) is int:
                future.set_result(outcome)
            else:
                kind, reason = outcome
                error = AuditUnavailable if kind == "unavailable" else AuditError
                future.set_exception(error(reason))
        if "size" in message:
            self._size = message["size"]
            self._healthy = message["healthy"]
        if "ready" in message:
            self._ready.set_result(None)
        elif "error" in message:
            name, reason = message["error"]
            self._ready.set_exception(_OPEN_ERRORS.get(name, AuditError)(reason))

    def _writer_gone(self) -> None:
        self._gone = True
        if not self._ended.done():
            self._ended.set_result(None)
        if not self._ready.done():
            self._ready.set_exception(AuditError("the audit writer exited while opening the log"))
            return
        if self._closed and not self._waiting:
            return
        self._healthy = False
        _log.error(
            "audit_writer_exited",
            records=len(self._waiting),
            on_failure=self._settings.on_failure,
            hint="records in flight are failed as unwritten; restart the sidecar",
        )
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            self._settle_unwritten(future)

    def _settle_unwritten(self, future: asyncio.Future[int]) -> None:
        if future.done():
            return
        if self._settings.on_failure == "fail_closed":
            future.set_exception(AuditUnavailable("the audit writer is not running"))
        else:
            future.set_result(UNRECORDED)

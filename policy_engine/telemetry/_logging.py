"""structlog as JSON lines on stdout; callers pass only ids, counts and reasons, never content."""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import threading
import time
from typing import Any, BinaryIO, Protocol, cast

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger


class _UtcClock:
    """structlog's ISO UTC timestamp ("2026-11-24T13:57:57.363443Z"), 0.46 µs a line
    against TimeStamper's 1.22: the date and time of day are formatted once per second."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{int((now - second) * 1_000_000):06d}Z"


class _JsonLine:
    """The last processor: level, timestamp and the JSON bytes in one step.

    One line is written per request; with structlog's merge_contextvars, TimeStamper and
    JSONRenderer as processors of their own, a request line took 5.6 µs in a tight loop
    against 4.6 (`bench/PERF_NOTES.md`, sixth round). Nothing binds context variables.
    """

    def __init__(self) -> None:
        self._clock = _UtcClock()

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> bytes:
        structlog.processors.add_log_level(logger, method_name, event_dict)
        event_dict["timestamp"] = self._clock.now()
        return orjson.dumps(event_dict)


class _Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


class IterationBatchedStream:
    """A binary stream written once per event-loop iteration instead of once per line.

    structlog's BytesLogger writes each line and flushes it. Inside a running loop the
    lines are kept until the loop's next turn and written in one write(2): at 16
    requests in flight that system call was 4 to 7 µs of each request's CPU
    (in-process). Outside a loop (startup, the CLI) and from other threads a flush
    writes at once, and whatever is still kept is written at exit. A kill -9 loses at
    most the current turn's lines, never an audit record (those are durable before the
    answer leaves).
    """

    def __init__(self, stream: _Sink) -> None:
        self._stream = stream
        self._pending: list[bytes] = []
        # The loop a write is scheduled on; a loop that stopped before its turn ran is
        # not waited for: the next loop to log schedules its own.
        self._scheduled_on: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def write(self, data: bytes) -> int:
        with self._lock:
            self._pending.append(data)
        return len(data)

    def flush(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.drain()
            return
        if self._scheduled_on is not loop:
            self._scheduled_on = loop
            loop.call_soon(self.drain)

    def drain(self) -> None:
        # Written under the lock too, so two threads draining cannot swap their lines.
        with self._lock:
            self._scheduled_on = None
            if not self._pending:
                return
            data = b"".join(self._pending)
            self._pending.clear()
            self._stream.write(data)
            self._stream.flush()


def processors() -> list[Processor]:
    return [structlog.processors.format_exc_info, _JsonLine()]


def configure_logging(level: str) -> None:
    stream = IterationBatchedStream(sys.stdout.buffer)
    atexit.register(stream.drain)
    structlog.configure(
        processors=processors(),
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        # Bytes straight from orjson, line and newline together (the text logger wrote
        # the newline with a second system call). BytesLogger calls only write and flush.
        logger_factory=structlog.BytesLoggerFactory(cast(BinaryIO, stream)),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)

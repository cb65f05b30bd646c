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

    def __init__(self, stream: IterationBatchedStream | None = None, level: int = 0) -> None:
        self._clock = _UtcClock()
        # Where and from which level `configure_logging` writes, for `EventLogger`.
        self.stream = stream
        self.level = level

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> bytes:
        structlog.processors.add_log_level(logger, method_name, event_dict)
        event_dict["timestamp"] = self._clock.now()
        return orjson.dumps(event_dict)

    def line(self, event_dict: EventDict, level: str) -> bytes:
        """What `__call__` and BytesLogger together write for `level`, newline included."""
        event_dict["level"] = level
        event_dict["timestamp"] = self._clock.now()
        return orjson.dumps(event_dict, option=orjson.OPT_APPEND_NEWLINE)


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


def processors(renderer: _JsonLine | None = None) -> list[Processor]:
    return [structlog.processors.format_exc_info, renderer or _JsonLine()]


class EventLogger:
    """One event logged with its fields, as structlog would log it, for a line written
    on every request.

    Through structlog a request's line took 5.1 µs in a tight loop against 2.0 µs
    rendered and queued here (the keyword arguments are packed three times over, the
    context copied, the processor chain walked, two locks taken), and the running
    pipeline spent ~11 µs less CPU per request (`bench/PERF_NOTES.md`, eighth round).
    Under `configure_logging`'s own setup the line is therefore rendered and queued
    here, byte for byte what structlog writes; under any other configuration (the
    tests' `capture_logs`, a host application's own) it goes through structlog.
    """

    def __init__(self, name: str, event: str, level: str = "info") -> None:
        self._logger = get_logger(name)
        self._event = event
        self._level = level
        self._number = logging.getLevelNamesMapping()[level.upper()]

    def __call__(self, fields: dict[str, Any]) -> None:
        """Log `fields` (a dict this call may change) with the event and level."""
        # The chain configure_logging set up ends in a renderer that knows its stream;
        # capture_logs swaps the processors inside the same list, so it is read each time.
        chain = structlog.get_config()["processors"]
        renderer = chain[-1] if chain else None
        if not isinstance(renderer, _JsonLine) or renderer.stream is None:
            getattr(self._logger, self._level)(self._event, **fields)
            return
        if self._number < renderer.level:
            return
        fields["event"] = self._event
        renderer.stream.write(renderer.line(fields, self._level))
        renderer.stream.flush()


def configure_logging(level: str, sink: _Sink | None = None) -> None:
    """JSON lines at `level` and above on `sink` (standard output's bytes by default)."""
    stream = IterationBatchedStream(sys.stdout.buffer if sink is None else sink)
    atexit.register(stream.drain)
    number = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=processors(_JsonLine(stream, number)),
        wrapper_class=structlog.make_filtering_bound_logger(number),
        # Bytes straight from orjson, line and newline together (the text logger wrote
        # the newline with a second system call). BytesLogger calls only write and flush.
        logger_factory=structlog.BytesLoggerFactory(cast(BinaryIO, stream)),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)

"""Log lines: JSON with level and UTC time, written once per event-loop turn."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, cast

import orjson
import pytest
import structlog
from structlog.testing import capture_logs

from policy_engine.telemetry import EventLogger, configure_logging, get_logger
from policy_engine.telemetry._logging import IterationBatchedStream, processors


class Recorder:
    """A binary stream that remembers each write(2) it would have made."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.writes.append(data)
        return len(data)

    def flush(self) -> None:
        pass


def logger_on(stream: IterationBatchedStream) -> Any:
    return structlog.wrap_logger(
        structlog.BytesLogger(cast(BinaryIO, stream)),
        processors=processors(),
        wrapper_class=structlog.make_filtering_bound_logger(20),
    )


async def test_the_lines_of_one_loop_turn_are_written_together_after_it() -> None:
    recorder = Recorder()
    log = logger_on(IterationBatchedStream(recorder))
    for n in range(3):
        log.info("request", n=n)
    assert recorder.writes == []
    await asyncio.sleep(0)
    assert len(recorder.writes) == 1
    lines = recorder.writes[0].splitlines()
    assert [orjson.loads(line)["n"] for line in lines] == [0, 1, 2]


def test_lines_kept_by_a_loop_that_stopped_go_out_with_the_next_loops_turn() -> None:
    recorder = Recorder()
    log = logger_on(IterationBatchedStream(recorder))
    loop = asyncio.new_event_loop()

    async def stop_then_log() -> None:
        loop.stop()  # the loop ends after this turn, before the turn that would write
        log.info("stranded")

    task = loop.create_task(stop_then_log())
    loop.run_forever()
    loop.close()
    assert task.done()
    assert recorder.writes == []

    async def log_again() -> None:
        log.info("next")
        await asyncio.sleep(0)

    asyncio.run(log_again())
    assert [orjson.loads(line)["event"] for line in b"".join(recorder.writes).splitlines()] == [
        "stranded",
        "next",
    ]


def test_a_line_logged_outside_a_loop_is_written_at_once() -> None:
    recorder = Recorder()
    logger_on(IterationBatchedStream(recorder)).info("started")
    assert len(recorder.writes) == 1


async def test_a_line_from_another_thread_is_written_at_once() -> None:
    recorder = Recorder()
    log = logger_on(IterationBatchedStream(recorder))
    thread = threading.Thread(target=log.warning, args=("from_a_thread",))
    thread.start()
    thread.join()
    assert [orjson.loads(w)["event"] for w in recorder.writes] == ["from_a_thread"]


async def test_drain_writes_what_is_kept_as_at_exit() -> None:
    recorder = Recorder()
    stream = IterationBatchedStream(recorder)
    logger_on(stream).info("last_words")
    stream.drain()
    assert len(recorder.writes) == 1
    stream.drain()
    assert len(recorder.writes) == 1


def test_a_line_carries_level_and_an_iso_utc_timestamp() -> None:
    recorder = Recorder()
    logger_on(IterationBatchedStream(recorder)).warning("hello", n=1)
    line = orjson.loads(recorder.writes[0])
    assert (line["event"], line["level"], line["n"]) == ("hello", "warning", 1)
    stamp = line["timestamp"]
    assert stamp.endswith("Z") and len(stamp) == len("2026-11-24T13:57:57.363443Z")
    moment = datetime.fromisoformat(stamp)
    assert moment.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - moment) < timedelta(seconds=5)


def test_an_exception_logged_with_exc_info_comes_out_as_text() -> None:
    recorder = Recorder()
    log = logger_on(IterationBatchedStream(recorder))
    try:
        raise ValueError("synthetic")
    except ValueError:
        log.error("failed", exc_info=True)
    line = orjson.loads(recorder.writes[0])
    assert line["level"] == "error"
    assert "ValueError: synthetic" in line["exception"]


@pytest.fixture
def configured() -> Iterator[Recorder]:
    """The sidecar's own logging setup on a recorder; structlog's defaults after."""
    recorder = Recorder()
    configure_logging("info", recorder)
    yield recorder
    structlog.reset_defaults()


def request_fields() -> dict[str, Any]:
    return {
        "request_id": "0" * 32,
        "tenant": "acme-eu",
        "status": 200,
        "provider": None,
        "attempts": ["openai-eu:ok"],
        "redactions": {"EMAIL_ADDRESS": 1},
        "latency_ms": 1.234,
    }


def without_timestamp(line: bytes) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads(line)
    assert document.pop("timestamp").endswith("Z")
    return document


async def test_an_event_logger_writes_the_line_structlog_writes(configured: Recorder) -> None:
    get_logger("policy_engine.request").info("request", **request_fields())
    direct_only = EventLogger("policy_engine.request", "request")
    direct_only._logger = None  # going through structlog would fail: this line is its own
    direct_only(request_fields())
    await asyncio.sleep(0)
    through_structlog, direct = configured.writes[0].splitlines(keepends=True)
    assert direct.endswith(b"\n")
    # Same keys in the same order, same values: only the time differs.
    assert list(without_timestamp(direct).items()) == list(
        without_timestamp(through_structlog).items()
    )
    assert direct.index(b'"timestamp"') == through_structlog.index(b'"timestamp"')


async def test_an_event_below_the_configured_level_is_not_written() -> None:
    recorder = Recorder()
    configure_logging("warning", recorder)
    try:
        EventLogger("policy_engine.request", "request")(request_fields())
        EventLogger("policy_engine.request", "overloaded", "error")(request_fields())
        await asyncio.sleep(0)
    finally:
        structlog.reset_defaults()
    assert [orjson.loads(line)["event"] for line in recorder.writes[0].splitlines()] == [
        "overloaded"
    ]


def test_an_event_logger_goes_through_structlog_when_it_is_configured_otherwise(
    configured: Recorder,
) -> None:
    with capture_logs() as captured:
        EventLogger("policy_engine.request", "request")(request_fields())
    assert captured == [{**request_fields(), "event": "request", "log_level": "info"}]
    assert configured.writes == []

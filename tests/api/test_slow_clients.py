"""Slow and greedy clients cannot hold the sidecar's connections (server.* limits).

Raw sockets against the sidecar as `policy-engine serve` serves it:
- a request head must arrive whole within `header_timeout_s`: one trickled a line at a
  time, or never begun, is answered 408 and closed; one past `max_header_bytes`, 431;
- a body must arrive within `body_timeout_s`: the route answers 408 in its protocol's
  shape, the request is audited, and the connection closes;
- past `max_connections`, a new connection is answered 503 and closed at once.
No timed assertion: were a connection not closed, the read waiting for its end would
not return (each has a bound far above the limits here).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import orjson
import pytest

from tests.api._raw import RawAnswer, exchange, parse_answer, port_of
from tests.fakes import FakeProvider
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

LIMITS = {
    "header_timeout_s": 0.5,
    "body_timeout_s": 0.5,
    "keep_alive_s": 5,  # longer than the others: the kept-alive test trickles its next head
    "max_header_bytes": 8 * 1024,
    "max_connections": 8,
}
WAIT_S = 30  # far above every limit: reached only if a connection is never closed
CHAT = orjson.dumps({"model": "default", "messages": [{"role": "user", "content": "Hi"}]})
HEAD = (
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: sandbox\r\n"
    b"Content-Type: application/json\r\n"
)

Connect = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


@pytest.fixture
async def sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunningSidecar]:
    async with FakeProvider("openai") as fake:
        settings = build_settings(tmp_path, [ProviderSpec("alpha", fake)], server=LIMITS)
        running = await start_sidecar(settings, monkeypatch)
        yield running
        await running.stop()


@pytest.fixture
async def connect(sidecar: RunningSidecar) -> AsyncIterator[Connect]:
    writers: list[asyncio.StreamWriter] = []

    async def open_one() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(sidecar.url))
        writers.append(writer)
        return reader, writer

    yield open_one
    for writer in writers:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def until_closed(reader: asyncio.StreamReader) -> RawAnswer:
    return parse_answer(await asyncio.wait_for(reader.read(), WAIT_S))


async def trickle(writer: asyncio.StreamWriter, lines: list[bytes], every_s: float) -> None:
    """Write `lines` one by one (until the server hangs up)."""
    with contextlib.suppress(ConnectionError):
        for line in lines:
            writer.write(line)
            await writer.drain()
            await asyncio.sleep(every_s)


async def test_a_head_trickled_line_by_line_is_a_408_and_closed(connect: Connect) -> None:
    reader, writer = await connect()
    lines = [HEAD] + [b"X-Filler-%d: a\r\n" % n for n in range(1000)]
    trickling = asyncio.create_task(trickle(writer, lines, every_s=0.2))

    answer = await until_closed(reader)

    trickling.cancel()
    assert answer.status == 408


async def test_a_connection_that_sends_nothing_is_closed(connect: Connect) -> None:
    reader, _ = await connect()
    assert (await until_closed(reader)).status == 408


async def test_a_head_past_the_size_limit_is_a_431_and_closed(connect: Connect) -> None:
    reader, writer = await connect()
    writer.write(HEAD + b"X-Filler: " + b"a" * 16 * 1024)  # no end of line, no end of head
    await writer.drain()

    assert (await until_closed(reader)).status == 431


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (b"/v1/chat/completions", CHAT),
        (
            b"/v1/messages",
            orjson.dumps(
                {
                    "model": "default",
                    "max_tokens": 8,
                    "messages": [{"role": "user", "content": "x"}],
                }
            ),
        ),
    ],
    ids=["openai", "anthropic"],
)
async def test_a_body_that_does_not_arrive_in_time_is_a_408_in_the_protocols_shape_and_audited(
    connect: Connect, sidecar: RunningSidecar, path: bytes, body: bytes
) -> None:
    reader, writer = await connect()
    head = HEAD.replace(b"/v1/chat/completions", path)
    writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
    await writer.drain()
    trickling = asyncio.create_task(trickle(writer, [bytes([c]) for c in body[10:]], every_s=0.3))

    answer = await until_closed(reader)

    trickling.cancel()
    assert answer.status == 408
    document = answer.json()
    if path == b"/v1/messages":
        assert document["type"] == "error" and document["error"]["type"] == "timeout_error"
    else:
        assert document["error"]["code"] == "timeout"
    record = sidecar.audit_events()[-1]
    assert (record["request_id"], record["outcome"], record["status"]) == (
        answer.headers["x-request-id"],
        "client_timeout",
        408,
    )


async def test_a_kept_alive_connection_trickling_its_next_head_is_closed(
    connect: Connect,
) -> None:
    reader, writer = await connect()
    writer.write(HEAD + b"Content-Length: %d\r\n\r\n" % len(CHAT) + CHAT)
    await writer.drain()
    first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT_S)
    assert first.startswith(b"HTTP/1.1 200")
    length = int(first.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    await reader.readexactly(length)
    lines = [HEAD] + [b"X-Filler-%d: a\r\n" % n for n in range(1000)]
    trickling = asyncio.create_task(trickle(writer, lines, every_s=0.1))

    answer = await until_closed(reader)

    trickling.cancel()
    assert answer.status == 408


async def test_past_the_connection_limit_a_new_connection_is_refused_at_once(
    connect: Connect, sidecar: RunningSidecar
) -> None:
    held = [await connect() for _ in range(int(LIMITS["max_connections"]))]
    for _, writer in held:
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\n")  # a head begun, never ended
        await writer.drain()
    # The sidecar has taken them all in once the next one is refused.
    reader, _ = await connect()

    answer = await until_closed(reader)

    assert (answer.status, answer.body) == (503, b"too many connections")
    for _, writer in held:
        writer.close()
    # Once they are gone (the header timeout closes them if the close is not seen first),
    # a new connection is served again.
    for _ in range(100):  # polling a condition, with a bound
        served = await exchange(port_of(sidecar.url), [b"X-Tenant-ID: sandbox"], CHAT)
        if served.status == 200:
            break
        await asyncio.sleep(0.1)
    assert served.status == 200


async def test_a_client_still_sending_when_the_connection_ends_reads_its_whole_answer(
    connect: Connect,
) -> None:
    # The client keeps the server's receive buffer full until the end: a socket closed
    # with unread bytes in it is reset, and a reset can take the answer with it.
    reader, writer = await connect()
    # A body longer than it will ever send, so that every byte it sends is body.
    writer.write(HEAD + b"Content-Length: 1000000000000\r\n\r\n{")
    await writer.drain()
    sending = asyncio.create_task(trickle(writer, [b" " * 65536] * 100_000, every_s=0))

    raw = await asyncio.wait_for(reader.read(), WAIT_S)

    sending.cancel()
    assert parse_answer(raw).status == 413


async def test_a_body_still_trickling_after_its_answer_ends_the_connection(
    connect: Connect,
) -> None:
    reader, writer = await connect()
    writer.write(HEAD + b"Content-Length: 5000000\r\n\r\n{")  # past server.max_body_bytes
    await writer.drain()
    trickling = asyncio.create_task(trickle(writer, [b" "] * 1000, every_s=0.1))

    raw = await asyncio.wait_for(reader.read(), WAIT_S)

    trickling.cancel()
    answer = parse_answer(raw)
    assert answer.status == 413
    assert raw.count(b"HTTP/1.1 ") == 1, "nothing is written after the answer"

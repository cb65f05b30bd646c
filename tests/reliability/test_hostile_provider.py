"""A hostile provider, end to end: whatever it sends, the request falls back or fails
cleanly, and its record says what the provider did.

The hostile provider (tests/fakes/_hostile.py) is first in line, speaking one of the
three provider protocols; a well-behaved one follows. Every answer the client gets is
a valid answer or its protocol's error, never a 500; the hostile attempt is recorded
with its outcome and the provider's status, never `pending`; the record's usage is a
pair of valid counts; and the five invariants hold (`_support.Invariants`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from structlog.testing import capture_logs

from adapters._validate import MAX_TOKEN_COUNT
from tests.fakes import FakeProvider, Ok, Protocol
from tests.fakes._hostile import (
    VALID,
    Answer,
    HostileProvider,
    body_answer,
    drip,
    endless_body,
    interim,
    json_answer,
    nested,
    raw,
    replaced,
    sse_answer,
    stream_wire,
    valid_plain,
    valid_stream,
)
from tests.reliability._support import Answer as ClientAnswer
from tests.reliability._support import Invariants, ask
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROTOCOLS: list[Protocol] = ["openai", "anthropic", "gemini"]
EU = {"residency": "eu"}
MAX_ANSWER = 1024 * 1024
TOOLS_ONLY = Ok(text="", tool_calls=VALID.tool_calls)


@dataclass
class World:
    protocol: Protocol
    hostile: HostileProvider
    good: FakeProvider
    outsider: FakeProvider
    sidecar: RunningSidecar
    http: httpx.AsyncClient
    logs: list[dict[str, Any]]
    records_before: int = 0

    def check_invariants(self) -> None:
        """`Invariants.check` for the one request of a test, on a sidecar shared by many."""
        before = self.records_before
        self.records_before = 0  # the records so far, as the invariants count them
        Invariants(
            self.sidecar,
            [self.hostile, self.good],  # type: ignore[list-item]
            [{"event": "request"}] * before + self.logs,
            [self.outsider],
        ).check(requests_sent=before + 1)


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=PROTOCOLS)
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    protocol: Protocol = request.param
    async with (
        HostileProvider(protocol) as hostile,
        FakeProvider("openai", name="good", reply="good answer") as good,
        FakeProvider("openai", name="outsider") as outsider,
    ):
        settings = build_settings(
            tmp_path_factory.mktemp(f"hostile-{protocol}"),
            [
                ProviderSpec("hostile", hostile, attributes=EU, priority=1),  # type: ignore[arg-type]
                ProviderSpec("good", good, attributes=EU, priority=2),
                ProviderSpec("outsider", outsider, attributes={"residency": "us"}, priority=0),
            ],
            routing={
                "attempts_per_provider": 1,
                # Every case here fails the hostile provider; its circuit must stay closed.
                "circuit_failure_threshold": 1_000_000,
                "first_byte_timeout_s": 1,
                "max_answer_bytes": MAX_ANSWER,
                "max_buffered_answer_bytes": 8 * MAX_ANSWER,
            },
        )
        with pytest.MonkeyPatch.context() as monkeypatch, capture_logs() as logs:
            running = await start_sidecar(settings, monkeypatch)
            try:
                async with httpx.AsyncClient(base_url=running.url, timeout=30) as http:
                    yield World(protocol, hostile, good, outsider, running, http, logs)
            finally:
                await running.stop()
        running.verify_audit()


@pytest.fixture(autouse=True)
def fresh(world: World) -> Iterator[None]:
    world.hostile.received.clear()
    world.good.reset()
    world.outsider.reset()
    world.logs.clear()
    world.records_before = len(world.sidecar.audit_events())
    yield


def record_of(world: World, answer: ClientAnswer) -> dict[str, Any]:
    wanted = answer.headers["x-request-id"]
    return next(e for e in world.sidecar.audit_events() if e["request_id"] == wanted)


def assert_clean(world: World, answer: ClientAnswer) -> dict[str, Any]:
    """No 500; the hostile attempt recorded with an outcome; valid usage; invariants."""
    assert answer.status != 500
    record = record_of(world, answer)
    hostile = [a for a in record["attempts"] if a["provider"] == "hostile"]
    assert hostile and all(a["outcome"] != "pending" for a in hostile), record["attempts"]
    if record["usage"] is not None:
        for count in record["usage"].values():
            assert type(count) is int and 0 <= count <= MAX_TOKEN_COUNT
    assert not [line for line in world.logs if line.get("event") == "answer_unreadable"], (
        "a codec let a hostile answer through its checks"
    )
    return record


def assert_fell_back(world: World, answer: ClientAnswer, status: int | None = 200) -> None:
    """The good provider answered; the hostile attempt is recorded as malformed, with
    the status its answer had (none when no final answer head came)."""
    assert (answer.status, answer.headers.get("x-routed-provider")) == (200, "good")
    record = assert_clean(world, answer)
    first = record["attempts"][0]
    assert (first["provider"], first["outcome"], first["status"]) == (
        "hostile",
        "malformed_response",
        status,
    )


HostileCase = Callable[[Protocol], Answer]
# Where each protocol keeps a field, in its non-streamed answer.
WHERE: dict[str, dict[Protocol, tuple[Any, ...]]] = {
    "first count": {
        "openai": ("usage", "prompt_tokens"),
        "anthropic": ("usage", "input_tokens"),
        "gemini": ("usageMetadata", "promptTokenCount"),
    },
    "usage": {"openai": ("usage",), "anthropic": ("usage",), "gemini": ("usageMetadata",)},
    "model": {"openai": ("model",), "anthropic": ("model",), "gemini": ("modelVersion",)},
    "tool calls": {
        "openai": ("choices", 0, "message", "tool_calls"),
        "anthropic": ("content",),
        "gemini": ("candidates", 0, "content", "parts"),
    },
    "arguments": {
        "openai": ("choices", 0, "message", "tool_calls", 0, "function", "arguments"),
        "anthropic": ("content", 1, "input"),
        "gemini": ("candidates", 0, "content", "parts", 1, "functionCall", "args"),
    },
}


def spoiled(field: str, value: Any) -> HostileCase:
    def case(protocol: Protocol) -> Answer:
        if field == "arguments" and protocol == "openai":
            value_here: Any = json.dumps(value)  # OpenAI sends arguments as JSON text
        else:
            value_here = value
        return json_answer(replaced(valid_plain(protocol), WHERE[field][protocol], value_here))

    return case


def invalid_utf8(protocol: Protocol) -> Answer:
    body = json.dumps(valid_plain(protocol)).encode()
    return body_answer(body.replace(b"Hello", b"\xff\xfe\xc3"))


PLAIN_CASES: dict[str, HostileCase] = {
    "usage-string": spoiled("first count", "lots"),
    "usage-negative": spoiled("first count", -5),
    "usage-past-2^53": spoiled("first count", 2**63),
    "usage-1e300": spoiled("first count", 1e300),
    "usage-float": spoiled("first count", 5.5),
    "usage-not-an-object": spoiled("usage", "all of it"),
    "model-10k-chars": spoiled("model", "m" * 10_000),
    "tool-calls-a-string": spoiled("tool calls", "abc"),
    "arguments-300-deep": spoiled("arguments", nested(150)),
    "body-3000-deep": lambda p: body_answer(b'{"a": ' + b"[" * 3000 + b"]" * 3000 + b"}"),
    "invalid-utf8": invalid_utf8,
    "html-200": lambda p: body_answer(b"<html>hello</html>", content_type="text/html"),
    "endless-body": lambda p: endless_body(),
    "101-switching": lambda p: raw(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\n\r\n"),
}


@pytest.mark.parametrize("case", list(PLAIN_CASES))
async def test_a_hostile_answer_falls_back_to_the_next_provider(world: World, case: str) -> None:
    world.hostile.script(PLAIN_CASES[case](world.protocol))

    answer = await ask(world.http, stream=False)

    assert_fell_back(world, answer, None if case == "101-switching" else 200)
    world.check_invariants()


def stream_with(
    protocol: Protocol, where: Callable[[Any], bool], path: tuple[Any, ...], value: Any
) -> Answer:
    """The tools-only stream with `path` set to `value` in the first event `where` holds."""
    events = valid_stream(protocol, TOOLS_ONLY)
    event = next(n for n, (_, data) in enumerate(events) if where(data))
    head, data = events[event]
    events[event] = (head, replaced(data, path, value))
    return sse_answer([stream_wire(events)])


def openai_call(data: Any) -> bool:
    return isinstance(data, dict) and bool(data["choices"]) and "tool_calls" in str(data)


def anthropic_type(kind: str) -> Callable[[Any], bool]:
    return lambda data: data.get("type") == kind


def first(data: Any) -> bool:
    return True


# The first content event is a tool call here: spoiling it fails the attempt before the
# stream is committed, so the request falls back.
STREAM_CASES: dict[str, HostileCase] = {
    "tool-index-abc": lambda p: {
        "openai": lambda: stream_with(
            p, openai_call, ("choices", 0, "delta", "tool_calls", 0, "index"), "abc"
        ),
        "anthropic": lambda: stream_with(
            p, anthropic_type("content_block_start"), ("index",), "abc"
        ),
        "gemini": lambda: stream_with(
            p, first, ("candidates", 0, "content", "parts", 0, "functionCall"), "abc"
        ),
    }[p](),
    "start-usage-string": lambda p: {
        "openai": lambda: stream_with(p, first, ("id",), {"not": "an id"}),
        "anthropic": lambda: stream_with(
            p, anthropic_type("message_start"), ("message", "usage", "input_tokens"), "lots"
        ),
        "gemini": lambda: stream_with(p, first, ("usageMetadata", "promptTokenCount"), "lots"),
    }[p](),
    "event-3000-deep": lambda p: sse_answer([b"data: " + b"[" * 3000 + b"]" * 3000 + b"\n\n"]),
    "json-not-sse": lambda p: json_answer(valid_plain(p)),
}


@pytest.mark.parametrize("case", list(STREAM_CASES))
async def test_a_hostile_stream_falls_back_before_it_is_committed(world: World, case: str) -> None:
    world.hostile.script(STREAM_CASES[case](world.protocol))

    answer = await ask(world.http, stream=True)

    assert_fell_back(world, answer)
    world.check_invariants()


async def test_a_hostile_value_after_the_first_event_ends_the_stream_with_its_error_event(
    world: World,
) -> None:
    # Text first commits the stream to the hostile provider; its final usage is a string.
    events = valid_stream(world.protocol)
    last = len(events) - 1 if world.protocol != "openai" else len(events) - 2
    path = {
        "openai": ("usage", "completion_tokens"),
        "anthropic": ("usage", "output_tokens"),
        "gemini": ("usageMetadata", "candidatesTokenCount"),
    }[world.protocol]
    if world.protocol == "anthropic":
        last = next(n for n, (_, d) in enumerate(events) if d.get("type") == "message_delta")
    head, data = events[last]
    events[last] = (head, replaced(data, path, "lots"))
    # Event by event, so the first content event arrives (and commits) on its own.
    world.hostile.script(sse_answer([stream_wire([e]) for e in events], pause_s=0.02))

    answer = await ask(world.http, stream=True)

    assert (answer.status, answer.headers["x-routed-provider"]) == (200, "hostile")
    assert answer.stream_failed
    record = assert_clean(world, answer)
    assert record["outcome"] == "stream_failed"
    assert record["attempts"] == [
        {
            **record["attempts"][0],
            "provider": "hostile",
            "outcome": "malformed_response",
            "status": 200,
        }
    ]
    world.check_invariants()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(
    "wrap",
    [
        lambda a: interim(a),
        lambda a: interim(a, b"HTTP/1.1 103 Early Hints\r\nlink: </x>; rel=preload\r\n\r\n"),
        lambda a: drip(a, every_s=0.001, size=64),
    ],
    ids=["100-continue", "103-early-hints", "slow-drip"],
)
async def test_a_valid_answer_after_interim_heads_or_dripped_is_answered(
    world: World, stream: bool, wrap: Callable[[Answer], Answer]
) -> None:
    valid = (
        sse_answer([stream_wire(valid_stream(world.protocol))])
        if stream
        else json_answer(valid_plain(world.protocol))
    )
    world.hostile.script(wrap(valid))

    answer = await ask(world.http, stream=stream)

    assert (answer.status, answer.headers["x-routed-provider"]) == (200, "hostile")
    assert not answer.stream_failed
    assert b"lookup" in answer.body  # the tool call the answer ends with
    assert_clean(world, answer)
    world.check_invariants()

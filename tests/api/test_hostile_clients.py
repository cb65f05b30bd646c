"""A hostile client: malformed framing and headers, deep JSON, huge arrays.

Every answer is the route protocol's error shape or a valid answer, never a 500; every
request that reached the application has exactly one audit record; what the HTTP
parser refuses (bad framing) is a 4xx or a closed connection before any request
exists. Duplicated routing headers have their own file (test_repeated_headers.py),
slow ones theirs (test_slow_clients.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from tests.api._raw import RawAnswer, exchange, port_of
from tests.fakes import FakeProvider
from tests.fakes._hostile import nested
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

pytestmark = pytest.mark.asyncio(loop_scope="module")

MESSAGE = [{"role": "user", "content": "Hi"}]
OPENAI = "/v1/chat/completions"
ANTHROPIC = "/v1/messages"
TENANT = b"X-Tenant-ID: sandbox"


@dataclass
class World:
    sidecar: RunningSidecar
    fake: FakeProvider

    async def send(self, route: str, body: bytes, *lines: bytes) -> RawAnswer:
        before = len(self.sidecar.audit_events())
        answer = await exchange(
            port_of(self.sidecar.url),
            [b"Content-Type: application/json", *lines],
            body,
            path=route.encode(),
        )
        assert answer.status != 500 and answer.status < 502
        assert len(self.sidecar.audit_events()) == before + 1, "one record per request"
        assert_protocol_shape(route, answer)
        return answer


def assert_protocol_shape(route: str, answer: RawAnswer) -> None:
    document = answer.json()
    if answer.status == 200:
        assert document["object" if route == OPENAI else "type"] in ("chat.completion", "message")
    elif route == ANTHROPIC:
        assert document["type"] == "error" and isinstance(document["error"]["message"], str)
    else:
        assert set(document["error"]) >= {"message", "type", "code"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with FakeProvider("openai", name="alpha", reply="fine") as fake:
        settings = build_settings(
            tmp_path_factory.mktemp("hostile-clients"), [ProviderSpec("alpha", fake)]
        )
        with pytest.MonkeyPatch.context() as monkeypatch:
            running = await start_sidecar(settings, monkeypatch)
            yield World(running, fake)
            await running.stop()
        running.verify_audit()


def body(route: str, **fields: Any) -> bytes:
    base: dict[str, Any] = {"model": "default", "messages": MESSAGE}
    if route == ANTHROPIC:
        base["max_tokens"] = 16
    return json.dumps(base | fields).encode()


def tool(parameters: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "f", "parameters": parameters}}


def anthropic_tool(parameters: Any) -> dict[str, Any]:
    return {"name": "f", "input_schema": parameters}


def deep_schema(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"x": schema}}
    return schema


def assistant_call(arguments: str) -> list[dict[str, Any]]:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}
    return [
        *MESSAGE,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
    ]


DEEP = {
    "body-101-deep": lambda route: body(route, metadata=nested(51)),
    "tool-parameters-500-deep": lambda route: body(
        route,
        tools=[(tool if route == OPENAI else anthropic_tool)(deep_schema(250))],
    ),
    "message-content-deep": lambda route: body(
        route,
        messages=[{"role": "user", "content": [{"type": "text", "text": "x", "x": nested(80)}]}],
    ),
}


@pytest.mark.parametrize("case", list(DEEP))
@pytest.mark.parametrize("route", [OPENAI, ANTHROPIC])
async def test_json_nested_past_the_limit_is_a_400(world: World, route: str, case: str) -> None:
    answer = await world.send(route, DEEP[case](route), TENANT)

    assert answer.status == 400
    assert "nests deeper than 100 levels" in answer.json()["error"]["message"]


@pytest.mark.parametrize("depth", [300, 3000])
async def test_tool_call_arguments_nested_past_the_limit_are_a_400(
    world: World, depth: int
) -> None:
    arguments = "[" * depth + "]" * depth
    answer = await world.send(OPENAI, body(OPENAI, messages=assistant_call(arguments)), TENANT)

    assert answer.status == 400
    assert "tool call arguments nest deeper" in answer.json()["error"]["message"]


async def test_json_nested_just_under_the_limit_is_answered(world: World) -> None:
    answer = await world.send(OPENAI, body(OPENAI, tools=[tool(deep_schema(45))]), TENANT)
    assert answer.status == 200


HUGE = {
    "100k-content-parts": lambda route: body(
        route, messages=[{"role": "user", "content": [{"type": "text", "text": ""}] * 100_000}]
    ),
    "50k-messages": lambda route: body(route, messages=MESSAGE * 50_001),
    "100k-stop-strings": lambda route: body(
        route,
        **({"stop": ["x"] * 100_000} if route == OPENAI else {"stop_sequences": ["x"] * 100_000}),
    ),
    "10k-tools": lambda route: body(
        route,
        tools=[
            (tool if route == OPENAI else anthropic_tool)({"type": "object"}) for _ in range(10_000)
        ],
    ),
    "1m-element-array": lambda route: body(route, metadata=[0] * 1_000_000),
}


@pytest.mark.parametrize("case", list(HUGE))
@pytest.mark.parametrize("route", [OPENAI, ANTHROPIC])
async def test_huge_arrays_are_answered_or_refused_never_a_500(
    world: World, route: str, case: str
) -> None:
    answer = await world.send(route, HUGE[case](route), TENANT)
    assert answer.status in (200, 400, 413)


@pytest.mark.parametrize(
    "lines",
    [
        [b"X-Tenant-ID: sand\xffbox"],
        [b"X-Tenant-ID: " + "\uff53\uff41\uff4e\uff44\uff42\uff4f\uff58".encode()],
        [TENANT, b"X-Privacy-Tags: pii,\xe2\x80\x8bpci"],
        [TENANT, b"X-Data-Residency: e\xc3\xbc"],
        [TENANT, b"X-Privacy-Tags: " + b",".join(b"t%d" % n for n in range(500))],
        [TENANT, b"Authorization: Bearer"],
        [TENANT, b"Authorization: " + b"A" * 6000],
    ],
    ids=[
        "tenant-invalid-utf8",
        "tenant-fullwidth",
        "tag-zero-width-space",
        "residency-non-ascii",
        "500-tags",
        "bearer-without-token",
        "long-authorization",
    ],
)
@pytest.mark.parametrize("route", [OPENAI, ANTHROPIC])
async def test_malformed_header_values_are_a_clear_4xx(
    world: World, route: str, lines: list[bytes]
) -> None:
    answer = await world.send(route, body(route), *lines)
    assert answer.status in (200, 400)


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: 5\r\nContent-Length: 7",
        b"Content-Length: -1",
        b"Content-Length: 5\r\nTransfer-Encoding: chunked",
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity",
        b"Content-Length: 99999999999999999999999",
        b"X Tenant: sandbox",
        b"X-Tenant-ID sandbox",
        b": empty-name",
        b"X-Tenant-ID: sandbox\x7f",
    ],
    ids=[
        "two-lengths",
        "negative-length",
        "length-and-chunked",
        "chunked-then-identity",
        "length-past-64-bits",
        "space-in-name",
        "no-colon",
        "empty-name",
        "del-in-a-value",
    ],
)
async def test_framing_the_parser_refuses_never_reaches_a_provider(
    world: World, framing: bytes
) -> None:
    before = len(world.fake.received)
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + TENANT + b"\r\n" + framing
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(world.sidecar.url))
    writer.write(head + b"\r\nConnection: close\r\n\r\n" + body(OPENAI))
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 30)
    writer.close()

    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None
    assert status is None or 400 <= status < 500
    assert len(world.fake.received) == before


@pytest.mark.parametrize(
    "body",
    [
        b'{"tenant": "sandbox", "privacy_tags": ' + b"[" * 3000 + b"]" * 3000 + b"}",
        b'{"tenant": "sandbox", "input_chars": 99999999999999999999999999}',
        b'{"tenant": "sandbox", "input_chars": 1e400}',
        b"[" * 100_000,
    ],
    ids=["3000-deep", "count-past-64-bits", "count-infinite", "100k-open-arrays"],
)
async def test_a_hostile_dry_run_body_is_a_400(world: World, body: bytes) -> None:
    answer = await exchange(
        port_of(world.sidecar.url),
        [b"Content-Type: application/json"],
        body,
        path=b"/v1/decisions",
    )
    assert answer.status == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"  # as on the chat routes

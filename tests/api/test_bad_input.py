"""Bad input: every malformed, hostile or random request gets a clear 4xx, never a crash.

What the sidecar does with each kind of bad input (this file is its specification):
- a body over `server.max_body_bytes` is a 413, whether declared or streamed;
- a body that is not JSON (invalid UTF-8, truncated) is a 400 naming the problem,
  as is one nesting deeper than 100 levels (tests/api/test_hostile_clients.py);
- unknown body fields are ignored, as the providers' own APIs ignore them;
- a field of the wrong type is a 400 naming the field;
- header values the HTTP parser refuses (too large, bare CR or LF) end in a 4xx from
  the server, or a closed connection, and the sidecar keeps serving;
- an unknown tenant is a 400; routing headers can add constraints but never loosen
  the tenant's own.
Random bodies and headers never get a 5xx: the only documented 5xx answers are 503s
when providers or the policy fail, and the providers here do not.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes import FakeProvider
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

pytestmark = pytest.mark.asyncio(loop_scope="module")

MAX_BODY = 256 * 1024
CHAT = {"model": "default", "messages": [{"role": "user", "content": "Hi"}]}
MESSAGES = {**CHAT, "max_tokens": 16}
SANDBOX = {"X-Tenant-ID": "sandbox"}
RESPONSES = {"model": "default", "input": [{"role": "user", "content": "Hi"}]}
ROUTES = {"/v1/chat/completions": CHAT, "/v1/messages": MESSAGES, "/v1/responses": RESPONSES}


@dataclass
class World:
    sidecar: RunningSidecar
    onprem: FakeProvider
    cloud: FakeProvider


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with (
        FakeProvider("openai", name="onprem") as onprem,
        FakeProvider("anthropic", name="cloud") as cloud,
    ):
        settings = build_settings(
            tmp_path_factory.mktemp("bad-input"),
            [
                ProviderSpec(
                    "onprem",
                    onprem,
                    attributes={"residency": "eu", "self_hosted": True},
                    priority=2,
                ),
                ProviderSpec("cloud", cloud, attributes={"residency": "us"}, priority=1),
            ],
            server={"max_body_bytes": MAX_BODY},
        )
        with pytest.MonkeyPatch.context() as monkeypatch:
            running = await start_sidecar(settings, monkeypatch)
            yield World(running, onprem, cloud)
            await running.stop()
        running.verify_audit()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=world.sidecar.url, timeout=30) as client:
        yield client


def assert_error_shape(route: str, response: httpx.Response) -> dict[str, Any]:
    """The protocol's own error JSON: OpenAI's {"error": {...}} or Anthropic's typed one."""
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    error: dict[str, Any] = document["error"]
    assert isinstance(error["message"], str) and error["message"]
    if route == "/v1/messages":
        assert document["type"] == "error" and isinstance(error["type"], str)
    else:
        assert set(error) >= {"message", "type", "code"}
    return error


async def test_a_declared_body_over_the_limit_is_a_413(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/v1/chat/completions", content=b"{" + b" " * MAX_BODY + b"}", headers=SANDBOX
    )
    assert response.status_code == 413
    assert_error_shape("/v1/chat/completions", response)


async def test_a_streamed_body_over_the_limit_is_a_413(http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b" " * (MAX_BODY // 4)

    response = await http.post("/v1/messages", content=chunks(), headers=SANDBOX)
    assert response.status_code == 413
    assert_error_shape("/v1/messages", response)


@pytest.mark.parametrize("route", list(ROUTES))
async def test_100k_nested_arrays_are_a_400_not_a_crash(
    http: httpx.AsyncClient, world: World, route: str
) -> None:
    depth = 100_000
    body = b'{"model": "default", "messages": ' + b"[" * depth + b"]" * depth + b"}"
    response = await http.post(route, content=body, headers=SANDBOX)
    assert response.status_code == 400
    assert "nests deeper than 100 levels" in assert_error_shape(route, response)["message"]
    assert (await http.get("/healthz")).status_code == 200


async def test_invalid_utf8_is_a_400(http: httpx.AsyncClient) -> None:
    body = b'{"model": "default", "messages": [{"role": "user", "content": "\xff\xfe\xc3"}]}'
    response = await http.post("/v1/chat/completions", content=body, headers=SANDBOX)
    assert response.status_code == 400
    assert "not valid JSON" in assert_error_shape("/v1/chat/completions", response)["message"]


async def test_an_unknown_top_level_field_is_refused_by_name(
    http: httpx.AsyncClient, world: World
) -> None:
    """Accepting a field and dropping it would be a silent lie (README "Request fields")."""
    received = len(world.cloud.received)
    body = {**CHAT, "frobnicate": True}
    response = await http.post("/v1/chat/completions", json=body, headers=SANDBOX)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "frobnicate"
    assert len(world.cloud.received) == received, "nothing was sent"


async def test_extra_keys_inside_a_message_are_not_forwarded(
    http: httpx.AsyncClient, world: World
) -> None:
    """Clients echo answers back with fields of their own (annotations, audio: null)."""
    body = {**CHAT, "messages": [{"role": "user", "content": "Hi", "x": 1}]}
    response = await http.post("/v1/chat/completions", json=body, headers=SANDBOX)
    assert response.status_code == 200
    assert b'"x"' not in world.cloud.received[-1].body, "only known fields are forwarded"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({**CHAT, "messages": "Hi"}, "messages"),
        ({**CHAT, "messages": [{"role": "user", "content": 42}]}, "messages[0].content"),
        ({**CHAT, "stream": "yes"}, "stream"),
        ({**CHAT, "max_tokens": -1}, "max_tokens"),
        ({**CHAT, "model": ["default"]}, "model"),
        ([CHAT], None),
    ],
    ids=["messages-string", "content-int", "stream-string", "negative-max", "model-list", "list"],
)
async def test_a_field_of_the_wrong_type_is_a_400_naming_it(
    http: httpx.AsyncClient, body: Any, param: str | None
) -> None:
    response = await http.post("/v1/chat/completions", json=body, headers=SANDBOX)
    assert response.status_code == 400
    error = assert_error_shape("/v1/chat/completions", response)
    if param is not None:
        assert f"'{param}'" in error["message"]


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("value", [{"a": 1}, [1], None, 3], ids=["object", "array", "null", "int"])
async def test_a_content_block_type_of_any_json_type_is_a_400(
    http: httpx.AsyncClient, route: str, value: Any
) -> None:
    # Found by schemathesis: an object here once reached a set lookup and became a 500.
    content = [{"type": value, "text": "Hi"}]
    turns = "input" if route == "/v1/responses" else "messages"
    body = {**ROUTES[route], turns: [{"role": "user", "content": content}]}
    response = await http.post(route, json=body, headers=SANDBOX)
    assert response.status_code == 400
    assert "type" in assert_error_shape(route, response)["message"]


async def test_a_huge_header_value_is_refused_and_the_sidecar_keeps_serving(
    http: httpx.AsyncClient,
) -> None:
    try:
        response = await http.post(
            "/v1/chat/completions", json=CHAT, headers={**SANDBOX, "X-Privacy-Tags": "a" * 2**20}
        )
        assert 400 <= response.status_code < 500
    except httpx.RemoteProtocolError:
        pass  # the parser may drop the connection instead: also a refusal
    assert (await http.post("/v1/chat/completions", json=CHAT, headers=SANDBOX)).status_code == 200


async def raw_request(world: World, head: bytes, body: bytes = b"") -> bytes:
    """Send bytes httpx would refuse to send; return what came back (b"" if closed)."""
    port = int(world.sidecar.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + body)
        await writer.drain()
        return await asyncio.wait_for(reader.read(65536), 10)
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize(
    "tenant_line",
    [
        b"X-Tenant-ID: sandbox\rX-Data-Residency: us",
        b"X-Tenant-ID: sandbox\nX-Injected: 1",
        b"X-Tenant-ID: sandbox\r\n X-Folded: 1",
    ],
    ids=["bare-cr", "bare-lf", "obs-fold"],
)
async def test_crlf_tricks_in_a_header_never_smuggle_a_header_through(
    world: World, tenant_line: bytes
) -> None:
    body = orjson.dumps(CHAT)
    before = len(world.cloud.received) + len(world.onprem.received)
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + tenant_line
        + b"\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
    )
    answer = await raw_request(world, head, body)
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None
    # Refused by the parser (4xx or a closed connection), or the value stayed one
    # malformed tenant id: either way nothing went to a provider.
    assert status is None or 400 <= status < 500
    assert len(world.cloud.received) + len(world.onprem.received) == before


async def test_an_unknown_tenant_is_a_400(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/messages", json=MESSAGES, headers={"X-Tenant-ID": "nobody"})
    assert response.status_code == 400
    assert "unknown tenant" in assert_error_shape("/v1/messages", response)["message"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Privacy-Tags": ""},
        {"X-Privacy-Tags": "none"},
        {"X-Privacy-Tags": "-pci"},
        {"X-Data-Residency": "us"},
        {"X-Routed-Provider": "cloud", "X-Provider": "cloud", "X-Allowed-Providers": "cloud"},
    ],
    ids=["none", "empty-tags", "tag-none", "minus-pci", "residency-us", "provider-headers"],
)
async def test_headers_cannot_loosen_a_tenants_constraints(
    http: httpx.AsyncClient, world: World, headers: dict[str, str]
) -> None:
    # paystream's pci tag allows self-hosted providers only: never `cloud`.
    before = len(world.cloud.received)
    response = await http.post(
        "/v1/chat/completions", json=CHAT, headers={"X-Tenant-ID": "paystream", **headers}
    )
    assert response.status_code in (200, 400, 403), response.text
    assert response.headers.get("x-routed-provider") in (None, "onprem")
    assert len(world.cloud.received) == before, "a pci request reached a cloud provider"


def _dumps(value: Any) -> bytes:
    # The standard library, not orjson: it writes integers past 64 bits too.
    return json.dumps(value).encode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
bodies = st.one_of(
    st.binary(max_size=512),
    json_values.map(_dumps),
    st.fixed_dictionaries(
        {"model": json_values | st.just("default"), "messages": json_values},
        optional={"stream": json_values, "max_tokens": json_values, "tools": json_values},
    ).map(_dumps),
)
header_value = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).map(
    str.strip
)
header_sets = st.dictionaries(
    st.sampled_from(
        ["X-Tenant-ID", "X-Data-Residency", "X-Privacy-Tags", "Authorization", "Content-Type"]
    ),
    header_value,
    max_size=4,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    route=st.sampled_from(list(ROUTES)),
    body=bodies,
    base=st.sampled_from([{}, SANDBOX]),  # half get past the tenant check to the body
    headers=header_sets,
)
async def test_random_bodies_and_headers_never_get_a_5xx(
    http: httpx.AsyncClient,
    route: str,
    body: bytes,
    base: dict[str, str],
    headers: dict[str, str],
) -> None:
    response = await http.post(route, content=body, headers={**base, **headers})
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        assert_error_shape(route, response)

"""The fake providers themselves: scripting, recording, auth, routing and faults."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes import (
    ConnectionReset,
    FakeProvider,
    Ok,
    Oversized,
    RateLimited,
    ServerError,
    SlowFirstByte,
    StallStream,
)

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
AUTH = {"Authorization": "Bearer test-key"}
TEN_SECONDS = aiohttp.ClientTimeout(total=10)


@pytest.fixture
async def openai_fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider("openai") as fake:
        yield fake


async def post(
    fake: FakeProvider,
    body: dict[str, Any] = CHAT,
    headers: dict[str, str] = AUTH,
    client_timeout: aiohttp.ClientTimeout = TEN_SECONDS,
) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession(timeout=client_timeout) as session,
        session.post(f"{fake.base_url}/chat/completions", json=body, headers=headers) as resp,
    ):
        return resp.status, await resp.read()


async def test_base_urls_follow_each_providers_convention() -> None:
    async with FakeProvider("openai") as openai, FakeProvider("anthropic") as anthropic:
        assert openai.base_url.startswith("http://127.0.0.1:") and openai.base_url.endswith("/v1")
        assert not anthropic.base_url.endswith("/v1")


async def test_scripted_behaviours_are_used_once_each_in_order_then_ok(
    openai_fake: FakeProvider,
) -> None:
    openai_fake.script(RateLimited(), ServerError(502))
    statuses = [(await post(openai_fake))[0] for _ in range(3)]
    assert statuses == [429, 502, 200]


async def test_always_applies_to_every_request_after_the_script(openai_fake: FakeProvider) -> None:
    openai_fake.script(Ok())
    openai_fake.always(ServerError(500))
    statuses = [(await post(openai_fake))[0] for _ in range(3)]
    assert statuses == [200, 500, 500]


async def test_every_request_is_recorded(openai_fake: FakeProvider) -> None:
    await post(openai_fake)
    [seen] = openai_fake.received
    assert (seen.method, seen.path) == ("POST", "/v1/chat/completions")
    assert seen.headers["authorization"] == "Bearer test-key"
    assert seen.json == CHAT


async def test_a_missing_key_is_refused_and_still_recorded(openai_fake: FakeProvider) -> None:
    status, _ = await post(openai_fake, headers={})
    assert status == 401
    assert len(openai_fake.received) == 1


async def test_a_fixed_reply_replaces_the_echo() -> None:
    async with FakeProvider("openai", reply="canned") as fake:
        _, body = await post(fake)
    assert b'"canned"' in body


async def test_connection_reset_before_headers_fails_the_client(openai_fake: FakeProvider) -> None:
    openai_fake.script(ConnectionReset())
    with pytest.raises(aiohttp.ClientConnectionError):
        await post(openai_fake)


async def test_connection_reset_mid_body_fails_the_read(openai_fake: FakeProvider) -> None:
    openai_fake.script(ConnectionReset(after_bytes=20))
    with pytest.raises(aiohttp.ClientError):
        await post(openai_fake, CHAT | {"stream": True})


async def test_slow_first_byte_delays_the_answer(openai_fake: FakeProvider) -> None:
    openai_fake.script(SlowFirstByte(0.2))
    started = time.monotonic()
    status, _ = await post(openai_fake)
    assert status == 200
    assert time.monotonic() - started >= 0.2


async def test_stall_stream_stops_sending_after_some_events(openai_fake: FakeProvider) -> None:
    openai_fake.script(StallStream(after_events=1, seconds=30))
    with pytest.raises(asyncio.TimeoutError):
        await post(
            openai_fake,
            CHAT | {"stream": True},
            client_timeout=aiohttp.ClientTimeout(sock_read=0.2),
        )


async def test_oversized_answers_are_that_big(openai_fake: FakeProvider) -> None:
    openai_fake.script(Oversized(bytes=100_000))
    status, body = await post(openai_fake)
    assert status == 200
    assert len(body) > 100_000


@pytest.mark.parametrize(
    ("protocol", "path"),
    [
        ("openai", "/v1/completions"),
        ("azure_openai", "/openai/deployments/d/chat/completions"),  # no api-version
        ("anthropic", "/v1/complete"),
        ("gemini", "/v1beta/models/g:streamGenerateContent"),  # no alt=sse
    ],
)
async def test_wrong_paths_get_a_404_in_the_providers_shape(protocol: str, path: str) -> None:
    async with FakeProvider(protocol) as fake, aiohttp.ClientSession() as session:  # type: ignore[arg-type]
        root = fake.base_url.removesuffix("/v1")
        async with session.post(root + path, json={}) as resp:
            assert resp.status == 404
            assert "error" in await resp.json()


async def test_gemini_fake_ignores_a_key_in_the_url() -> None:
    """The codec must send the key in x-goog-api-key: a ?key= URL would end up in logs."""
    async with FakeProvider("gemini") as fake, aiohttp.ClientSession() as session:
        url = f"{fake.base_url}/v1beta/models/g:generateContent?key=test-key"
        async with session.post(url, json={"contents": []}) as resp:
            assert resp.status == 400
            assert (await resp.json())["error"]["details"][0]["reason"] == "API_KEY_INVALID"


async def test_stop_returns_promptly_while_a_stream_is_stalled(openai_fake: FakeProvider) -> None:
    openai_fake.script(StallStream(after_events=1, seconds=30))
    async with aiohttp.ClientSession() as session:
        resp = await session.post(
            f"{openai_fake.base_url}/chat/completions", json=CHAT | {"stream": True}, headers=AUTH
        )
        await resp.content.readuntil(b"\n\n")
        started = time.monotonic()
        await openai_fake.stop()
        assert time.monotonic() - started < 5
        resp.close()


async def test_openai_fake_sends_a_usage_chunk_only_when_asked(openai_fake: FakeProvider) -> None:
    _, plain = await post(openai_fake, CHAT | {"stream": True})
    _, asked = await post(
        openai_fake, CHAT | {"stream": True, "stream_options": {"include_usage": True}}
    )
    assert b'"usage"' not in plain
    assert b'"choices": [], "usage": {' in asked


async def test_anthropic_fake_requires_the_version_header() -> None:
    async with FakeProvider("anthropic") as fake, aiohttp.ClientSession() as session:
        body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
        async with session.post(
            f"{fake.base_url}/v1/messages", json=body, headers={"x-api-key": "test-key"}
        ) as resp:
            assert resp.status == 400
            assert (await resp.json())["error"]["type"] == "invalid_request_error"

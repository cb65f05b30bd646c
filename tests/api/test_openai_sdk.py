"""The official openai SDK, pointed at the sidecar by base_url alone, just works."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest

from tests.fakes import FakeProvider, ServerError
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

HEADERS = {"X-Tenant-ID": "sandbox"}


@pytest.fixture
async def primary() -> AsyncIterator[FakeProvider]:
    async with FakeProvider("openai", name="primary") as fake:  # echoes the user
        yield fake


@pytest.fixture
async def backup() -> AsyncIterator[FakeProvider]:
    async with FakeProvider("anthropic", name="backup", reply="hello from backup") as fake:
        yield fake


@pytest.fixture
async def sidecar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, primary: FakeProvider, backup: FakeProvider
) -> AsyncIterator[RunningSidecar]:
    settings = build_settings(
        tmp_path,
        [
            ProviderSpec("primary", primary, priority=1),
            ProviderSpec("backup", backup, priority=2),
        ],
    )
    running = await start_sidecar(settings, monkeypatch)
    yield running
    await running.stop()


@pytest.fixture
def client(sidecar: RunningSidecar) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=f"{sidecar.url}/v1", api_key="unused", default_headers=HEADERS, max_retries=0
    )


async def test_plain_chat_is_answered_by_the_first_candidate(
    client: openai.AsyncOpenAI, sidecar: RunningSidecar
) -> None:
    raw = await client.chat.completions.with_raw_response.create(
        model="default", messages=[{"role": "user", "content": "Hi"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "Hi"
    assert raw.headers["x-routed-provider"] == "primary"
    assert raw.headers["x-request-id"]
    assert completion.usage is not None


async def test_streamed_chat_arrives_in_order_and_ends_cleanly(
    client: openai.AsyncOpenAI,
) -> None:
    stream = await client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text = ""
    usage = None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage is not None:
            usage = chunk.usage
    assert text == "Hi"
    assert usage is not None


async def test_a_failing_provider_falls_back_to_the_next_allowed_one(
    client: openai.AsyncOpenAI, primary: FakeProvider, backup: FakeProvider, sidecar: RunningSidecar
) -> None:
    primary.script(ServerError(500))
    raw = await client.chat.completions.with_raw_response.create(
        model="default", messages=[{"role": "user", "content": "Hi"}]
    )
    assert raw.parse().choices[0].message.content == "hello from backup"
    assert raw.headers["x-routed-provider"] == "backup"
    record = sidecar.audit_events()[-1]
    assert [a["outcome"] for a in record["attempts"]] == ["server_error", "ok"]
    assert record["outcome"] == "answered"


async def test_a_streamed_request_falls_back_before_the_first_byte(
    client: openai.AsyncOpenAI, primary: FakeProvider
) -> None:
    primary.script(ServerError(503))
    stream = await client.chat.completions.create(
        model="default", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "hello from backup"


async def test_pii_is_redacted_on_the_way_out_and_restored_on_the_way_back(
    client: openai.AsyncOpenAI, primary: FakeProvider
) -> None:
    message = "Mail jane.doe@example.com please"
    completion = await client.chat.completions.create(
        model="default", messages=[{"role": "user", "content": message}]
    )
    assert completion.choices[0].message.content == message
    sent = primary.received[-1].body.decode()
    assert "jane.doe@example.com" not in sent
    assert "<EMAIL_ADDRESS_1>" in sent


async def test_every_request_leaves_one_verifiable_audit_record(
    client: openai.AsyncOpenAI, sidecar: RunningSidecar
) -> None:
    for _ in range(3):
        await client.chat.completions.create(
            model="default", messages=[{"role": "user", "content": "Hi"}]
        )
    events = sidecar.audit_events()
    assert len(events) == 3
    assert all(e["tenant"] == "sandbox" and e["outcome"] == "answered" for e in events)
    await sidecar.stop()
    sidecar.verify_audit()

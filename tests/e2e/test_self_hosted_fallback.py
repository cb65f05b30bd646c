"""The mission's self-hosted fallback against a real inference server: a tenant whose
cloud providers fail is answered by llama.cpp's OpenAI-compatible server (a tiny random
model: the words are gibberish, the wire format, streaming and fallback are real),
through the sidecar, with what the policy redacts for a self-hosted provider kept from
it, and an audit record of every attempt.

What the local server received is read off a byte relay in front of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import openai
import pytest

from tests.e2e._llama import MODEL_ALIAS, LlamaServer, llama_server_installed
from tests.fakes import FakeProvider, ServerError
from tests.ports import free_port
from tests.reliability._support import ask
from tests.sidecar import API_KEY, ProviderSpec, RunningSidecar, build_settings, start_sidecar

if not llama_server_installed():
    pytest.skip(
        "llama.cpp's server is not installed: `make e2e` builds it and runs these",
        allow_module_level=True,
    )

# Synthetic: AWS's documented example key id (a SECRET, redacted for every provider) and
# a reserved-domain address (structured PII: redacted off premises, not for a
# self-hosted provider, per policies/router/redaction.rego).
SECRET = "AKIAIOSFODNN7EXAMPLE"
EMAIL = "ada.lovelace@example.com"
PROMPT = f"Summarise: key {SECRET} belongs to {EMAIL}."
EU = {"residency": "eu"}
HEADERS = {"X-Tenant-ID": "sandbox", "X-Data-Residency": "eu"}


@asynccontextmanager
async def recording_relay(port: int) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A loopback relay to `port` keeping every byte sent to it."""
    sent: list[bytes] = []

    async def pipe(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, keep: list[bytes] | None
    ) -> None:
        try:
            while data := await reader.read(65536):
                if keep is not None:
                    keep.append(data)
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.gather(
            pipe(reader, upstream_writer, sent), pipe(upstream_reader, writer, None)
        )

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], sent
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def tenant_with_failing_clouds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, llama: LlamaServer
) -> AsyncIterator[tuple[RunningSidecar, FakeProvider, list[bytes]]]:
    """cloud-a answers 500, cloud-b is down, on-prem is the real llama.cpp server."""
    async with (
        FakeProvider("openai", name="cloud-a") as cloud_a,
        recording_relay(llama.port) as (relay_port, received),
    ):
        cloud_a.always(ServerError())
        down = FakeProvider("openai", name="cloud-b")
        settings = build_settings(
            tmp_path,
            [
                ProviderSpec("cloud-a", cloud_a, EU, priority=1),
                ProviderSpec(
                    "cloud-b", down, EU, priority=2, base_url=f"http://127.0.0.1:{free_port()}/v1"
                ),
                ProviderSpec(
                    "on-prem",
                    cloud_a,
                    {**EU, "self_hosted": True},
                    models={"default": MODEL_ALIAS},
                    priority=3,
                    api_key_env=None,
                    base_url=f"http://127.0.0.1:{relay_port}/v1",
                ),
            ],
            routing={"attempts_per_provider": 1, "first_byte_timeout_s": 60, "deadline_s": 120},
        )
        running = await start_sidecar(settings, monkeypatch)
        try:
            yield running, cloud_a, received
        finally:
            await running.stop()


def body(stream: bool) -> dict[str, object]:
    return {
        "model": "default",
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": 12,
        "stream": stream,
    }


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_failing_clouds_fall_back_to_the_real_local_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, llama_server: LlamaServer, stream: bool
) -> None:
    async with (
        tenant_with_failing_clouds(tmp_path, monkeypatch, llama_server) as (
            running,
            cloud_a,
            received,
        ),
        httpx.AsyncClient(base_url=running.url, timeout=120, trust_env=False) as http,
    ):
        answer = await ask(http, stream, prompt=PROMPT)
    assert answer.status == 200, answer.body[:500]
    assert answer.headers["x-routed-provider"] == "on-prem"
    if stream:
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert answer.body.rstrip().endswith(b"data: [DONE]")
    [record] = running.audit_events()
    assert [(a["provider"], a["outcome"]) for a in record["attempts"]] == [
        ("cloud-a", "server_error"),
        ("cloud-b", "connection"),
        ("on-prem", "ok"),
    ]
    running.verify_audit()
    sent_local = b"".join(received)
    assert b"POST /v1/chat/completions" in sent_local
    assert SECRET.encode() not in sent_local  # always redacted, wherever the model runs
    assert EMAIL.encode() in sent_local  # a self-hosted provider may see structured PII
    sent_cloud = b"".join(call.body for call in cloud_a.received)
    assert SECRET.encode() not in sent_cloud and EMAIL.encode() not in sent_cloud


async def test_the_official_sdk_streams_from_the_local_server_through_the_sidecar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, llama_server: LlamaServer
) -> None:
    async with tenant_with_failing_clouds(tmp_path, monkeypatch, llama_server) as (running, _, _):
        client = openai.AsyncOpenAI(
            base_url=f"{running.url}/v1",
            api_key=API_KEY,
            default_headers=HEADERS,
            http_client=httpx.AsyncClient(trust_env=False, timeout=120),
        )
        stream = await client.chat.completions.create(
            model="default",
            messages=[{"role": "user", "content": "Say something."}],
            max_tokens=12,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
        await client.close()
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    usage = [c.usage for c in chunks if c.usage is not None]
    assert chunks and finish in (["length"], ["stop"])
    assert isinstance(text, str)
    # The usage chunk the client asked for is there; llama-cpp-python's server sends no
    # usage in a stream (it ignores stream_options), so its counts are zero.
    assert len(usage) == 1

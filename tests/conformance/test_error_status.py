"""No answer that carries an error has a 2xx status, whatever status the provider sent.

Providers report some failures under 200: Gemini blocks a prompt with
`promptFeedback.blockReason`, and every provider can send an error event inside a
stream it opened with 200. The client must still see an error status (or, once its
stream has begun, the protocol's error event), so the official SDKs raise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import httpx
import openai
import pytest
import pytest_asyncio

from tests.fakes import (
    ContentFilter,
    ErrorUnder200,
    FakeProvider,
    InvalidRequest,
    Protocol,
    all_running,
)
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, serving

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROTOCOLS: tuple[Protocol, ...] = ("openai", "azure_openai", "anthropic", "gemini")
# paystream forbids refusal fallback and may use self-hosted providers without NER.
HEADERS = {"X-Tenant-ID": "paystream"}
USER = {"role": "user", "content": "Hi"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fakes() -> AsyncIterator[dict[str, FakeProvider]]:
    started = {p: FakeProvider(p, name=p) for p in PROTOCOLS}
    async with all_running(started.values()):
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sidecar(
    tmp_path_factory: pytest.TempPathFactory, fakes: dict[str, FakeProvider]
) -> AsyncIterator[RunningSidecar]:
    # One alias per provider, so each case picks its provider by model name.
    specs = [
        ProviderSpec(
            protocol,
            fake,
            attributes={"self_hosted": True},
            models={"default": "m", protocol: f"{protocol}-model"},
        )
        for protocol, fake in fakes.items()
    ]
    settings = build_settings(tmp_path_factory.mktemp("status"), specs)
    async with serving(settings) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def http(sidecar: RunningSidecar) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sidecar.url, timeout=10, headers=HEADERS) as client:
        yield client


def openai_client(sidecar: RunningSidecar) -> openai.AsyncOpenAI:
    return sidecar.openai_sdk(HEADERS)


def anthropic_client(sidecar: RunningSidecar) -> anthropic.AsyncAnthropic:
    return sidecar.anthropic_sdk(HEADERS)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_gemini_prompt_block_is_a_400_content_filter_error(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider], stream: bool
) -> None:
    fakes["gemini"].script(ContentFilter())
    body = {"model": "gemini", "messages": [USER], "stream": stream}

    response = await http.post("/v1/chat/completions", json=body)

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == "content_filter"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_the_openai_sdk_raises_on_a_gemini_prompt_block(
    sidecar: RunningSidecar, fakes: dict[str, FakeProvider], stream: bool
) -> None:
    fakes["gemini"].script(ContentFilter())
    client = openai_client(sidecar)

    with pytest.raises(openai.BadRequestError):
        if stream:
            chunks = await client.chat.completions.create(
                model="gemini", messages=[USER], stream=True
            )
            _ = [chunk async for chunk in chunks]
        else:
            await client.chat.completions.create(model="gemini", messages=[USER])


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_the_anthropic_sdk_raises_on_a_gemini_prompt_block(
    sidecar: RunningSidecar, fakes: dict[str, FakeProvider], stream: bool
) -> None:
    fakes["gemini"].script(ContentFilter())
    client = anthropic_client(sidecar)

    with pytest.raises(anthropic.BadRequestError):
        if stream:
            events = await client.messages.create(
                model="gemini", max_tokens=32, messages=[USER], stream=True
            )
            _ = [event async for event in events]
        else:
            await client.messages.create(model="gemini", max_tokens=32, messages=[USER])


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_invalid_request_error_event_opening_a_200_stream_is_a_400(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider], protocol: str
) -> None:
    fakes[protocol].script(ErrorUnder200())
    body = {"model": protocol, "messages": [USER], "stream": True}

    response = await http.post("/v1/chat/completions", json=body)

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_error_body_under_200_is_answered_with_an_error_status(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider], protocol: str
) -> None:
    fakes[protocol].always(ErrorUnder200())
    body = {"model": protocol, "messages": [USER]}
    try:
        response = await http.post("/v1/chat/completions", json=body)
    finally:
        fakes[protocol].reset()

    assert response.status_code >= 400
    assert "error" in response.json()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_the_anthropic_sdk_raises_on_an_error_event_opening_a_200_stream(
    sidecar: RunningSidecar, fakes: dict[str, FakeProvider], protocol: str
) -> None:
    fakes[protocol].script(ErrorUnder200())
    client = anthropic_client(sidecar)

    with pytest.raises(anthropic.BadRequestError):
        events = await client.messages.create(
            model=protocol, max_tokens=32, messages=[USER], stream=True
        )
        _ = [event async for event in events]


@pytest.mark.parametrize("protocol", ["openai", "azure_openai"])
async def test_a_provider_400_that_names_a_param_passes_it_on(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider], protocol: str
) -> None:
    fakes[protocol].script(InvalidRequest())  # OpenAI's 400 names param "temperature"

    response = await http.post("/v1/chat/completions", json={"model": protocol, "messages": [USER]})

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "temperature"

"""Every answer says which model answered (`X-Routed-Model`, the body's `model`) and, when
it did not come from the first candidate, why (`X-Fallback`); the audit record says both.

`alpha` is an Azure deployment named `prod-4o` that serves gpt-4o (its identity in
model_attributes), tried first; `bravo` is Anthropic's claude-sonnet, second.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio

from tests.fakes import FakeProvider, Ok, RateLimited, ServerError, Unavailable
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

pytestmark = pytest.mark.asyncio(loop_scope="module")

ALPHA_MODEL = "gpt-4o"
BRAVO_MODEL = "claude-sonnet"
PRICES = {"alpha": (2.5, 10.0), "bravo": (3.0, 15.0)}
BODY = {"model": "default", "messages": [{"role": "user", "content": "Hello"}]}
ANTHROPIC_BODY = {**BODY, "max_tokens": 64}
TENANT = {"X-Tenant-ID": "sandbox"}


def specs(alpha: FakeProvider, bravo: FakeProvider) -> list[ProviderSpec]:
    return [
        ProviderSpec(
            "alpha",
            alpha,
            models={"default": "prod-4o"},
            model_attributes={"prod-4o": {"model": ALPHA_MODEL, "quality": 88.7}},
            attributes={"price_per_1m_input": 0.15, "price_per_1m_output": 0.6},
            priority=1,
        ),
        ProviderSpec(
            "bravo",
            bravo,
            models={"default": BRAVO_MODEL},
            model_attributes={
                BRAVO_MODEL: {
                    "quality": 88.3,
                    "price_per_1m_input": PRICES["bravo"][0],
                    "price_per_1m_output": PRICES["bravo"][1],
                }
            },
            priority=2,
        ),
    ]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fakes() -> AsyncIterator[tuple[FakeProvider, FakeProvider]]:
    async with (
        FakeProvider("azure_openai", name="alpha") as alpha,
        FakeProvider("anthropic", name="bravo") as bravo,
    ):
        yield alpha, bravo


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sidecar(
    tmp_path_factory: pytest.TempPathFactory, fakes: tuple[FakeProvider, FakeProvider]
) -> AsyncIterator[RunningSidecar]:
    # Cases share the sidecar: no case may open a circuit for the next one.
    settings = build_settings(
        tmp_path_factory.mktemp("signals"),
        specs(*fakes),
        routing={"circuit_failure_threshold": 1000, "attempts_per_provider": 1},
    )
    with pytest.MonkeyPatch.context() as monkeypatch:
        running = await start_sidecar(settings, monkeypatch)
        try:
            yield running
        finally:
            await running.stop()


@pytest.fixture(autouse=True)
def fresh_fakes(fakes: tuple[FakeProvider, FakeProvider]) -> None:
    for fake in fakes:
        fake.reset()


def record_for(sidecar: RunningSidecar, response: httpx.Response) -> dict[str, Any]:
    request_id = response.headers["x-request-id"]
    return next(e for e in sidecar.audit_events() if e["request_id"] == request_id)


def sse_documents(text: str) -> list[dict[str, Any]]:
    return [
        orjson.loads(line[len("data: ") :])
        for line in text.splitlines()
        if line.startswith("data: {")
    ]


async def test_first_candidate_answer_names_its_model_and_no_fallback(
    http: httpx.AsyncClient, sidecar: RunningSidecar
) -> None:
    response = await http.post("/v1/chat/completions", json=BODY, headers=TENANT)
    assert response.status_code == 200
    assert response.headers["x-routed-provider"] == "alpha"
    assert response.headers["x-routed-model"] == ALPHA_MODEL
    assert "x-fallback" not in response.headers
    assert response.json()["model"] == ALPHA_MODEL
    record = record_for(sidecar, response)
    assert (record["model"], record["fallback"]) == (ALPHA_MODEL, None)
    assert record["attempts"][0]["model"] == "prod-4o"  # what was sent on the wire


async def test_fallback_answer_names_the_fallback_model_and_why(
    http: httpx.AsyncClient, sidecar: RunningSidecar, fakes: tuple[FakeProvider, FakeProvider]
) -> None:
    fakes[0].script(RateLimited(retry_after=None))
    response = await http.post("/v1/chat/completions", json=BODY, headers=TENANT)
    assert response.status_code == 200
    assert response.headers["x-routed-model"] == BRAVO_MODEL
    assert response.headers["x-fallback"] == "rate_limited"
    assert response.json()["model"] == BRAVO_MODEL
    record = record_for(sidecar, response)
    assert (record["model"], record["fallback"]) == (BRAVO_MODEL, "rate_limited")
    assert record["price"] == {"input_per_1m": 3.0, "output_per_1m": 15.0}


async def test_streamed_fallback_names_the_model_in_headers_and_every_chunk(
    http: httpx.AsyncClient, sidecar: RunningSidecar, fakes: tuple[FakeProvider, FakeProvider]
) -> None:
    fakes[0].script(ServerError(500))
    response = await http.post(
        "/v1/chat/completions", json={**BODY, "stream": True}, headers=TENANT
    )
    assert response.headers["x-routed-model"] == BRAVO_MODEL
    assert response.headers["x-fallback"] == "server_error"
    chunks = sse_documents(response.text)
    assert chunks and {chunk["model"] for chunk in chunks} == {BRAVO_MODEL}
    assert record_for(sidecar, response)["fallback"] == "server_error"


async def test_anthropic_client_gets_the_answering_model_in_the_message(
    http: httpx.AsyncClient, fakes: tuple[FakeProvider, FakeProvider]
) -> None:
    fakes[0].script(Unavailable())
    response = await http.post("/v1/messages", json=ANTHROPIC_BODY, headers=TENANT)
    assert response.status_code == 200
    assert response.json()["model"] == BRAVO_MODEL
    assert response.headers["x-fallback"] == "server_error"


async def test_anthropic_stream_names_the_answering_model_in_message_start(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/v1/messages", json={**ANTHROPIC_BODY, "stream": True}, headers=TENANT
    )
    start = next(d for d in sse_documents(response.text) if d["type"] == "message_start")
    assert start["message"]["model"] == ALPHA_MODEL
    assert response.headers["x-routed-model"] == ALPHA_MODEL


async def test_the_answers_model_is_ours_not_what_the_provider_claims(
    http: httpx.AsyncClient, fakes: tuple[FakeProvider, FakeProvider]
) -> None:
    fakes[0].script(Ok(model="gpt-4o-2024-08-06\r\nX-Injected: 1"))
    response = await http.post("/v1/chat/completions", json=BODY, headers=TENANT)
    assert response.json()["model"] == ALPHA_MODEL
    assert "x-injected" not in response.headers


async def test_an_answer_from_the_first_candidate_after_a_retry_is_no_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fakes: tuple[FakeProvider, FakeProvider]
) -> None:
    alpha, bravo = fakes
    alpha.script(ServerError(500))
    bravo.always(ServerError(500))
    settings = build_settings(tmp_path, specs(alpha, bravo), routing={"attempts_per_provider": 2})
    running = await start_sidecar(settings, monkeypatch)
    try:
        async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
            response = await http.post("/v1/chat/completions", json=BODY, headers=TENANT)
    finally:
        await running.stop()
    assert response.headers["x-routed-provider"] == "alpha"
    assert "x-fallback" not in response.headers


async def test_a_first_choice_left_out_for_its_open_circuit_is_a_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fakes: tuple[FakeProvider, FakeProvider]
) -> None:
    alpha, bravo = fakes
    alpha.always(ServerError(500))
    settings = build_settings(
        tmp_path,
        specs(alpha, bravo),
        routing={"circuit_failure_threshold": 1, "circuit_open_s": 600, "attempts_per_provider": 1},
    )
    running = await start_sidecar(settings, monkeypatch)
    try:
        async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
            opened = await http.post("/v1/chat/completions", json=BODY, headers=TENANT)
            skipped = await http.post("/v1/chat/completions", json=BODY, headers=TENANT)
    finally:
        await running.stop()
    assert opened.headers["x-fallback"] == "server_error"
    # alpha's circuit is open: the plan starts at bravo, which is still a fallback.
    assert len(alpha.received) == 1
    assert skipped.headers["x-routed-model"] == BRAVO_MODEL
    assert skipped.headers["x-fallback"] == "circuit_open"
    events = {e["request_id"]: e for e in running.audit_events()}
    assert events[skipped.headers["x-request-id"]]["fallback"] == "circuit_open"

"""POST /v1/embeddings through the whole sidecar: policy, redaction, fallback within one
vector space, the two audit records, metering, and errors in OpenAI's shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from policy_engine.audit import iter_records
from tests.fakes import BadVectors, FakeProvider, RateLimited, ServerError, fake_vector
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

SMALL = "text-embedding-3-small"
HEADERS = {"X-Tenant-ID": "sandbox", "X-Data-Residency": "eu"}
EU = {"residency": "eu", "zero_data_retention": True}


@pytest.fixture
async def fakes() -> AsyncIterator[dict[str, FakeProvider]]:
    async with (
        FakeProvider("openai", name="openai-eu") as openai_eu,
        FakeProvider("azure_openai", name="azure-eu") as azure_eu,
        FakeProvider("gemini", name="gemini-eu") as gemini_eu,
        FakeProvider("openai", name="openai-us") as openai_us,
    ):
        yield {
            "openai-eu": openai_eu,
            "azure-eu": azure_eu,
            "gemini-eu": gemini_eu,
            "openai-us": openai_us,
        }


@pytest.fixture
async def sidecar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fakes: dict[str, FakeProvider]
) -> AsyncIterator[RunningSidecar]:
    settings = build_settings(
        tmp_path,
        [
            ProviderSpec(
                "openai-eu",
                fakes["openai-eu"],
                attributes={**EU, "cloud": "openai", "price_per_1m_input": 0.02},
                models={"default": "gpt-4o-mini", "embed": SMALL},
                priority=1,
                model_attributes={SMALL: {"dimensions": 8}},
            ),
            ProviderSpec(
                "azure-eu",
                fakes["azure-eu"],
                attributes={**EU, "cloud": "azure"},
                models={"default": "gpt-4o-mini", "embed": "embed-deploy"},
                priority=2,
                model_attributes={"embed-deploy": {"model": SMALL}},
            ),
            # Another model, first by priority: never sent an `embed` request.
            ProviderSpec(
                "gemini-eu",
                fakes["gemini-eu"],
                attributes={**EU, "cloud": "gcp"},
                models={"default": "gemini-2.0-flash", "embed-gemini": "gemini-embedding-001"},
                priority=0,
            ),
            # The same model, outside the EU: denied by residency, never sent anything.
            ProviderSpec(
                "openai-us",
                fakes["openai-us"],
                attributes={"residency": "us"},
                models={"default": "gpt-4o-mini", "embed": SMALL},
                priority=0,
            ),
        ],
        embeddings={"embed": {"model": SMALL}, "embed-gemini": {}},
    )
    running = await start_sidecar(settings, monkeypatch)
    yield running
    await running.stop()


async def embed(http: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await http.post("/v1/embeddings", json=body, headers={**HEADERS, **headers})


def calls(fakes: dict[str, FakeProvider]) -> dict[str, int]:
    return {pid: len(fake.embedding_calls()) for pid, fake in fakes.items() if fake.received}


async def test_an_alias_is_answered_by_its_first_allowed_provider(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider]
) -> None:
    response = await embed(http, {"model": "embed", "input": ["alpha", "beta"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [d["embedding"] for d in body["data"]] == [
        fake_vector(SMALL, "alpha"),
        fake_vector(SMALL, "beta"),
    ]
    assert body["model"] == SMALL
    assert response.headers["x-routed-provider"] == "openai-eu"
    assert response.headers["x-routed-model"] == SMALL
    assert calls(fakes) == {"openai-eu": 1}


async def test_failover_stays_within_the_model_and_says_why(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider]
) -> None:
    fakes["openai-eu"].always(ServerError())
    response = await embed(http, {"model": "embed", "input": ["alpha"]})
    assert response.status_code == 200, response.text
    assert response.headers["x-routed-provider"] == "azure-eu"
    assert response.headers["x-routed-model"] == SMALL
    assert response.headers["x-fallback"] == "server_error"
    assert response.json()["data"][0]["embedding"] == fake_vector("embed-deploy", "alpha")
    assert fakes["gemini-eu"].received == []
    assert fakes["openai-us"].received == []


async def test_when_the_models_providers_fail_another_model_is_not_tried(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider]
) -> None:
    fakes["openai-eu"].always(ServerError())
    fakes["azure-eu"].always(RateLimited(retry_after=0))
    response = await embed(http, {"model": "embed", "input": ["alpha"]})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "providers_unavailable"
    assert fakes["gemini-eu"].received == []
    assert "openai-us" in response.json()["error"]["message"]  # not allowed, and why


async def test_a_hostile_vector_answer_falls_back(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider]
) -> None:
    fakes["openai-eu"].script_embeddings(BadVectors("nan"))
    response = await embed(http, {"model": "embed", "input": ["alpha", "beta"]})
    assert response.status_code == 200
    assert response.headers["x-fallback"] == "malformed_response"


async def test_vectors_of_another_length_than_the_models_fall_back(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider]
) -> None:
    fakes["openai-eu"].dimensions = 12  # model_attributes says text-embedding-3-small has 8
    response = await embed(http, {"model": "embed", "input": ["alpha"]})
    assert response.headers["x-routed-provider"] == "azure-eu"
    assert response.headers["x-fallback"] == "malformed_response"


async def test_the_models_identity_is_served_as_a_name(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider]
) -> None:
    response = await embed(http, {"model": SMALL, "input": "alpha"})
    assert response.status_code == 200
    assert response.headers["x-routed-provider"] == "openai-eu"


async def test_pii_in_inputs_is_redacted_before_it_leaves_and_counted(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider], sidecar: RunningSidecar
) -> None:
    text = "Contact jane.roe@example.org about the claim"
    response = await embed(
        http,
        {"model": "embed", "input": [text], "user": "jane.roe@example.org"},
        **{"X-Privacy-Tags": "pii"},
    )
    assert response.status_code == 200
    sent = fakes["openai-eu"].received[0].json
    assert sent["input"] == ["Contact <EMAIL_ADDRESS_1> about the claim"]
    assert sent["user"] == "<EMAIL_ADDRESS_1>"
    # The placeholder is what was embedded.
    assert response.json()["data"][0]["embedding"] == fake_vector(SMALL, sent["input"][0])
    await sidecar.stop()
    outcome = sidecar.audit_events()[-1]
    assert outcome["redactions"] == {"EMAIL_ADDRESS": 1}
    log = b"".join(p.read_bytes() for p in sidecar.settings.audit.dir.rglob("*") if p.is_file())
    assert b"jane.roe" not in log


async def test_an_embeddings_request_has_an_intent_then_an_outcome_naming_the_operation(
    http: httpx.AsyncClient, sidecar: RunningSidecar
) -> None:
    response = await embed(http, {"model": "embed", "input": ["alpha", "beta"]})
    request_id = response.headers["x-request-id"]
    await sidecar.stop()
    records = [r for _, r in iter_records(sidecar.settings.audit.dir)]
    mine = [r for r in records if r.event.get("request_id") == request_id]
    assert [r.kind for r in mine] == ["intent", "request"]
    intent, outcome = mine
    assert intent.event["context"]["operation"] == "embeddings"
    assert [c["provider"] for c in intent.event["candidates"]] == ["openai-eu", "azure-eu"]
    assert outcome.event["context"]["operation"] == "embeddings"
    assert outcome.event["intent_seq"] == intent.seq
    assert outcome.event["outcome"] == "answered"
    assert outcome.event["usage"] == {"input_tokens": 2, "output_tokens": 0}
    assert outcome.event["price"] == {"input_per_1m": 0.02, "output_per_1m": 0.0}
    sidecar.verify_audit()


async def test_gemini_reports_no_usage_so_the_record_says_it_is_estimated(
    http: httpx.AsyncClient, sidecar: RunningSidecar
) -> None:
    response = await embed(http, {"model": "embed-gemini", "input": ["a" * 40]})
    assert response.status_code == 200
    assert response.json()["usage"] == {"prompt_tokens": 10, "total_tokens": 10}
    await sidecar.stop()
    assert sidecar.audit_events()[-1]["usage"] == {
        "input_tokens": 10,
        "output_tokens": 0,
        "estimated": True,
    }


async def test_tokens_are_metered_by_provider(
    http: httpx.AsyncClient, sidecar: RunningSidecar
) -> None:
    await embed(http, {"model": "embed", "input": ["one two three"]})
    metrics = (await http.get("/metrics")).text
    assert 'tokens_total{direction="input",provider="openai-eu"} 3.0' in metrics
    assert 'cost_usd_total{provider="openai-eu"} 6e-08' in metrics


async def test_a_denial_names_each_provider_and_its_reasons(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider]
) -> None:
    response = await embed(http, {"model": "embed", "input": "a"}, **{"X-Tenant-ID": "paystream"})
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "policy_denied"
    assert "tenant: paystream does not allow embeddings" in error["message"]
    assert all(not fake.received for fake in fakes.values())


async def test_token_arrays_are_refused_and_audited(
    http: httpx.AsyncClient, sidecar: RunningSidecar, fakes: dict[str, FakeProvider]
) -> None:
    response = await embed(http, {"model": "embed", "input": [[1212, 318]]})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "input"
    await sidecar.stop()
    assert sidecar.audit_events()[-1]["outcome"] == "bad_request"
    assert all(not fake.received for fake in fakes.values())


async def test_an_unknown_model_is_a_404_listing_the_embedding_models(
    http: httpx.AsyncClient,
) -> None:
    response = await embed(http, {"model": "text-embedding-ada-002", "input": "a"})
    assert response.status_code == 404
    assert "embed, embed-gemini" in response.json()["error"]["message"]


async def test_a_chat_model_on_the_embeddings_route_is_a_400(http: httpx.AsyncClient) -> None:
    response = await embed(http, {"model": "default", "input": "a"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model"


async def test_an_embedding_model_on_the_chat_route_is_a_400(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider]
) -> None:
    chat = {"model": "embed", "messages": [{"role": "user", "content": "hi"}]}
    response = await http.post("/v1/chat/completions", json=chat, headers=HEADERS)
    assert response.status_code == 400
    assert "POST /v1/embeddings" in response.json()["error"]["message"]
    assert all(not fake.received for fake in fakes.values())


async def test_more_inputs_than_any_allowed_provider_takes_is_a_400_naming_input(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider]
) -> None:
    response = await embed(http, {"model": "embed-gemini", "input": ["x"] * 101})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "input"
    assert "gemini-eu takes at most 100" in error["message"]
    assert fakes["gemini-eu"].received == []


async def test_a_provider_400_is_passed_back_not_retried_elsewhere(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider]
) -> None:
    response = await embed(http, {"model": "embed", "input": "a", "dimensions": 4, "user": 7})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "user"
    assert all(not fake.received for fake in fakes.values())


async def test_the_models_route_lists_and_finds_embedding_models(
    http: httpx.AsyncClient,
) -> None:
    listed = [m["id"] for m in (await http.get("/v1/models")).json()["data"]]
    assert {"embed", "embed-gemini"} <= set(listed)
    assert (await http.get(f"/v1/models/{SMALL}")).status_code == 200


async def test_a_get_on_the_embeddings_route_is_a_405_in_openais_shape(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/v1/embeddings")
    assert response.status_code == 405
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_rate_limited_first_provider_retries_the_same_model(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider]
) -> None:
    fakes["openai-eu"].script_embeddings(RateLimited(retry_after=0))
    response = await embed(http, {"model": "embed", "input": "a"})
    assert response.headers["x-routed-provider"] == "azure-eu"
    assert response.headers["x-fallback"] == "rate_limited"


async def test_a_dry_run_plans_an_embeddings_request_within_its_model(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/v1/decisions",
        json={"tenant": "sandbox", "residency": "eu", "model": "embed", "operation": "embeddings"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["input"]["request"]["operation"] == "embeddings"
    assert [step["provider"] for step in body["route"]] == ["openai-eu", "azure-eu"]


async def test_a_dry_run_with_an_unknown_operation_is_a_400_naming_it(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post("/v1/decisions", json={"tenant": "sandbox", "operation": "train"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "operation"


async def test_a_large_answer_read_and_written_off_the_loop_is_the_same_answer(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The thresholds brought down to every answer, so that this small one takes the path
    # of a large batch (a thread each way) and must come back unchanged.
    monkeypatch.setattr("policy_engine.routing._embedding_calls.OFF_LOOP_BYTES", 0)
    monkeypatch.setattr("policy_engine.pipeline._embeddings.OFF_LOOP_NUMBERS", 0)
    texts = [f"document {n}" for n in range(50)]
    response = await embed(http, {"model": "embed", "input": texts})
    assert response.status_code == 200
    assert [d["embedding"] for d in response.json()["data"]] == [
        fake_vector(SMALL, t) for t in texts
    ]

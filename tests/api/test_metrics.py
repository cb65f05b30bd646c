"""GET /metrics tells an operator how each provider is doing, and nothing about the prompts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes import FakeProvider, Ok, ServerError, Unauthorized
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

pytestmark = pytest.mark.asyncio(loop_scope="module")

# Synthetic PII and a prompt distinctive enough that any leak of it would be found.
EMAIL = "jane.doe@example.com"
PROMPT = f"Plan the purple elephant parade and mail {EMAIL}"
REPLY = "The tangerine walrus agrees"
PRICES = {"alpha": (2.0, 8.0), "bravo": (3.0, 15.0)}
USAGE = (11, 7)  # input, output tokens of every fake answer


def _attributes(provider: str) -> dict[str, float]:
    price_in, price_out = PRICES[provider]
    return {"price_per_1m_input": price_in, "price_per_1m_output": price_out}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def metrics(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The /metrics body after a success, a fallback after a 500, and one after a 401."""
    async with (
        FakeProvider("openai", name="alpha", reply=REPLY) as alpha,
        FakeProvider("anthropic", name="bravo", reply=REPLY) as bravo,
    ):
        settings = build_settings(
            tmp_path_factory.mktemp("metrics"),
            [
                ProviderSpec("alpha", alpha, attributes=_attributes("alpha"), priority=1),
                ProviderSpec("bravo", bravo, attributes=_attributes("bravo"), priority=2),
            ],
            # Two failures in a row open alpha's circuit, so its state shows.
            routing={"circuit_failure_threshold": 2},
        )
        alpha.script(Ok(usage=USAGE), ServerError(500), Unauthorized())
        with pytest.MonkeyPatch.context() as monkeypatch:
            running = await start_sidecar(settings, monkeypatch)
            try:
                yield await _exercise(running)
            finally:
                await running.stop()


async def _exercise(running: RunningSidecar) -> str:
    body = {"model": "default", "messages": [{"role": "user", "content": PROMPT}]}
    async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
        for _ in range(3):
            reply = await http.post(
                "/v1/chat/completions", json=body, headers={"X-Tenant-ID": "sandbox"}
            )
            assert reply.status_code == 200, reply.text
        return (await http.get("/metrics")).text


def value(text: str, name: str, **labels: str) -> float:
    """One sample's value; the sum when several samples match, 0 when none does."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


async def test_attempts_are_counted_per_provider(metrics: str) -> None:
    assert value(metrics, "policy_engine_provider_requests_total", provider="alpha") == 3
    assert value(metrics, "policy_engine_provider_requests_total", provider="bravo") == 2


async def test_failures_are_counted_per_provider_and_kind(metrics: str) -> None:
    failures = "policy_engine_provider_failures_total"
    assert value(metrics, failures, provider="alpha", kind="server_error") == 1
    assert value(metrics, failures, provider="alpha", kind="auth") == 1
    assert value(metrics, failures, provider="bravo") == 0


async def test_successful_attempt_latency_is_a_histogram_per_provider(metrics: str) -> None:
    histogram = "policy_engine_provider_latency_seconds"
    assert value(metrics, f"{histogram}_count", provider="alpha") == 1
    assert value(metrics, f"{histogram}_count", provider="bravo") == 2
    assert value(metrics, f"{histogram}_bucket", provider="bravo", le="+Inf") == 2
    assert 0 < value(metrics, f"{histogram}_sum", provider="bravo") < 10


async def test_tokens_are_counted_per_provider_and_direction(metrics: str) -> None:
    tokens = "policy_engine_provider_tokens_total"
    assert value(metrics, tokens, provider="alpha", direction="input") == USAGE[0]
    assert value(metrics, tokens, provider="alpha", direction="output") == USAGE[1]
    assert value(metrics, tokens, provider="bravo", direction="input") == 2 * USAGE[0]
    assert value(metrics, tokens, provider="bravo", direction="output") == 2 * USAGE[1]


async def test_estimated_cost_follows_the_price_attributes(metrics: str) -> None:
    for provider, answers in (("alpha", 1), ("bravo", 2)):
        price_in, price_out = PRICES[provider]
        expected = answers * (USAGE[0] * price_in + USAGE[1] * price_out) / 1_000_000
        cost = value(metrics, "policy_engine_provider_cost_usd_total", provider=provider)
        assert cost == pytest.approx(expected)


async def test_circuit_state_shows_the_open_circuit_and_the_closed_one(metrics: str) -> None:
    assert value(metrics, "policy_engine_circuit_state", provider="alpha") == 2  # open
    assert value(metrics, "policy_engine_circuit_state", provider="bravo") == 0  # closed


async def test_a_401_marks_the_provider_misconfigured(metrics: str) -> None:
    assert value(metrics, "policy_engine_provider_misconfigured", provider="alpha") == 1
    assert value(metrics, "policy_engine_provider_misconfigured", provider="bravo") == 0


async def test_requests_and_fallbacks_are_counted(metrics: str) -> None:
    requests = "policy_engine_requests_total"
    assert value(metrics, requests, protocol="openai", outcome="answered") == 3
    assert value(metrics, "policy_engine_fallbacks_total", reason="server_error") == 1
    assert value(metrics, "policy_engine_fallbacks_total", reason="auth") == 1
    assert value(metrics, "policy_engine_redactions_total", entity_type="EMAIL_ADDRESS") == 3


async def test_no_prompt_text_or_pii_appears_in_the_metrics(metrics: str) -> None:
    for secret in (EMAIL, "jane.doe", "purple elephant", "tangerine walrus", PROMPT):
        assert secret not in metrics

"""Invariant 1: no byte of a request reaches a provider outside the decision's allowed set,
whatever fails, times out, or is retried.

Each example draws a provider catalog (protocols, residency, certifications), a
shipped tenant, routing headers, failure scripts and streaming, runs one request
through a real sidecar, and checks every fake against two independent views of the
allowed set: the sidecar's own dry-run decision, and a hand-written reading of the
policy rules in policies/README.md that does not trust the policy at all.
"""

from __future__ import annotations

import json
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.fakes import (
    Behaviour,
    ConnectionReset,
    ContentFilter,
    FakeProvider,
    InvalidRequest,
    MalformedJSON,
    MalformedSSE,
    Overloaded,
    Protocol,
    RateLimited,
    ServerError,
    SlowFirstByte,
    StreamCut,
    Unauthorized,
    Unavailable,
    WrongContentType,
)
from tests.sidecar import POLICY_DIR, ProviderSpec, build_settings, start_sidecar

TENANTS: dict[str, dict[str, Any]] = json.loads((POLICY_DIR / "tenants" / "data.json").read_text())
FIRST_BYTE_TIMEOUT_S = 0.4
# Names the shipped tenants' allow, deny and preference lists refer to.
PROVIDER_IDS = [
    "openai-us",
    "anthropic-us",
    "azure-openai-us",
    "vllm-onprem",
    "mistral-eu",
    "gemini-eu",
    "azure-openai-eu",
]
PROTOCOLS: list[Protocol] = ["openai", "anthropic", "gemini", "azure_openai"]
FAILURES: list[Behaviour] = [
    ServerError(500),
    Unavailable(),
    Overloaded(),
    RateLimited(retry_after=0),
    ConnectionReset(),
    ConnectionReset(after_bytes=40),
    SlowFirstByte(FIRST_BYTE_TIMEOUT_S * 3),
    MalformedJSON(),
    MalformedSSE(),
    StreamCut(after_events=1),
    WrongContentType(),
    Unauthorized(),
    InvalidRequest(),
    ContentFilter(),
]


@dataclass(frozen=True)
class Provider:
    id: str
    protocol: Protocol
    residency: str | None
    certifications: tuple[str, ...]
    zero_data_retention: bool
    self_hosted: bool
    failures: tuple[Behaviour, ...]

    def attributes(self) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "certifications": list(self.certifications),
            "zero_data_retention": self.zero_data_retention,
            "self_hosted": self.self_hosted,
        }
        if self.residency is not None:
            attributes["residency"] = self.residency
        return attributes


@dataclass(frozen=True)
class Scenario:
    providers: list[Provider]
    tenant: str
    residency: str | None
    privacy_tags: tuple[str, ...]
    stream: bool
    client: str  # "openai", "anthropic" or "responses" (OpenAI's Responses API)
    headers: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        headers = {"X-Tenant-ID": self.tenant}
        if self.residency is not None:
            headers["X-Data-Residency"] = self.residency
        if self.privacy_tags:
            headers["X-Privacy-Tags"] = ",".join(self.privacy_tags)
        object.__setattr__(self, "headers", headers)


@st.composite
def providers(draw: st.DrawFn) -> list[Provider]:
    ids = draw(st.lists(st.sampled_from(PROVIDER_IDS), min_size=2, max_size=5, unique=True))
    return [
        Provider(
            id=pid,
            protocol=draw(st.sampled_from(PROTOCOLS)),
            residency=draw(st.sampled_from(["eu", "us", None])),
            certifications=tuple(draw(st.sets(st.sampled_from(["hipaa_baa", "soc2"])))),
            zero_data_retention=draw(st.booleans()),
            self_hosted=draw(st.booleans()),
            failures=tuple(draw(st.lists(st.sampled_from(FAILURES), max_size=3))),
        )
        for pid in ids
    ]


scenarios = st.builds(
    Scenario,
    providers=providers(),
    tenant=st.sampled_from(sorted(TENANTS)),
    residency=st.sampled_from([None, "eu", "us", "EU"]),
    privacy_tags=st.lists(
        st.sampled_from(["pii", "phi", "pci", "confidential"]), unique=True, max_size=1
    ).map(tuple),
    stream=st.booleans(),
    client=st.sampled_from(["openai", "anthropic", "responses"]),
)


def hand_allowed(scenario: Scenario) -> set[str]:
    """The policy rules of policies/README.md, written out again without Rego."""
    tenant = TENANTS[scenario.tenant]
    header = (scenario.residency or "").strip().lower() or None
    if tenant["residency"] is not None and header is not None and header != tenant["residency"]:
        return set()  # a header may not change a tenant's residency
    residency = tenant["residency"] or header
    tags = set(tenant["privacy_tags"]) | set(scenario.privacy_tags)
    allowed = set()
    for p in scenario.providers:
        if residency is not None and p.residency != residency:
            continue
        if "phi" in tags and "hipaa_baa" not in p.certifications:
            continue
        if "pci" in tags and not p.self_hosted:
            continue
        if "confidential" in tags and not p.zero_data_retention:
            continue
        if "allow_providers" in tenant and p.id not in tenant["allow_providers"]:
            continue
        if p.id in tenant.get("deny_providers", []):
            continue
        allowed.add(p.id)
    return allowed


def residency_bound(scenario: Scenario) -> set[str]:
    """Residency alone, the rule the product is sold on: an upper bound on any allowed set."""
    tenant_residency = TENANTS[scenario.tenant]["residency"]
    header = (scenario.residency or "").strip().lower() or None
    if tenant_residency is not None and header not in (None, tenant_residency):
        return set()
    required = tenant_residency or header
    return {p.id for p in scenario.providers if required is None or p.residency == required}


def chat_request(scenario: Scenario) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {
        "model": "default",
        "messages": [{"role": "user", "content": "Hello there"}],
        "stream": scenario.stream,
    }
    if scenario.client == "anthropic":
        return "/v1/messages", body | {"max_tokens": 64}
    if scenario.client == "responses":
        return "/v1/responses", {
            "model": "default",
            "input": "Hello there",
            "stream": scenario.stream,
        }
    return "/v1/chat/completions", body


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios)
async def test_no_provider_outside_the_allowed_set_ever_receives_a_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenario: Scenario
) -> None:
    async with AsyncExitStack() as stack:
        fakes: dict[str, FakeProvider] = {}
        for p in scenario.providers:
            fakes[p.id] = await stack.enter_async_context(FakeProvider(p.protocol, name=p.id))
            fakes[p.id].script(*p.failures)
        config = build_settings(
            tmp_path / uuid.uuid4().hex,
            [
                ProviderSpec(p.id, fakes[p.id], attributes=p.attributes())
                for p in scenario.providers
            ],
            routing={
                "connect_timeout_s": FIRST_BYTE_TIMEOUT_S,
                "first_byte_timeout_s": FIRST_BYTE_TIMEOUT_S,
                "attempt_timeout_s": 1,
            },
            # Route tenants that want PERSON/LOCATION redacted without an NER backend;
            # this test is about where requests go, not what they carry.
            redaction={"undetectable": "record"},
        )
        running = await start_sidecar(config, monkeypatch)
        stack.push_async_callback(running.stop)
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=running.url, timeout=10))
        dry_run = await http.post(
            "/v1/decisions",
            json={
                "tenant": scenario.tenant,
                "residency": scenario.residency,
                "privacy_tags": list(scenario.privacy_tags),
                "stream": scenario.stream,
                "protocol": scenario.client,
                "operation": "responses" if scenario.client == "responses" else "chat",
            },
        )
        assert dry_run.status_code == 200, dry_run.text
        allowed = set(dry_run.json()["decision"]["allowed"])

        path, body = chat_request(scenario)
        reply = await http.post(path, json=body, headers=scenario.headers)

        received = {pid for pid, fake in fakes.items() if fake.received}
        record = running.audit_events()[-1]
        attempted = {a["provider"] for a in record["attempts"]}
        answered = {a["provider"] for a in record["attempts"] if a["status"] is not None}
        assert set(record["policy"]["allowed"]) == allowed
        assert received <= allowed, f"sent outside the allowed set: {received - allowed}"
        assert attempted <= allowed
        assert received <= attempted, "every request a provider got is an audited attempt"
        # An attempt that timed out may not have reached its provider; one with a status has.
        assert answered <= received
        assert allowed == hand_allowed(scenario)
        assert received <= residency_bound(scenario)
        event(f"outcome {record['outcome']}, {len(attempted)} provider(s) tried")
        routed = reply.headers.get("x-routed-provider")
        assert routed is None or routed in received
        if not allowed:
            assert (reply.status_code, record["outcome"]) == (403, "denied")
            assert received == set()

"""Fallback never mixes vector spaces: no embedding request reaches a provider serving
another embedding model than the one its name stands for.

Each example draws a config (providers of three adapters, embedding aliases mapped to
models and Azure-style deployments whose identity is stated in model_attributes, some
aliases pinned to a model, some model-agnostic), failure scripts, and a requested name.
A config in which a non-agnostic alias spans two models must be refused at startup;
any other runs one request through a real sidecar, and every embeddings call any fake
received must be for the model the name stands for, worked out here from the config
without the sidecar's route table, and to a provider the decision allowed.
"""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from policy_engine._errors import ConfigError
from tests.fakes import (
    BadVectors,
    Behaviour,
    ConnectionReset,
    FakeProvider,
    InvalidRequest,
    MalformedJSON,
    Protocol,
    RateLimited,
    ServerError,
    Unauthorized,
)
from tests.sidecar import ProviderSpec, build_settings, start_sidecar

MODELS = ["m-alpha", "m-beta"]
ALIASES = ["embed", "embed-2"]
PROTOCOLS: list[Protocol] = ["openai", "azure_openai", "gemini"]
FAILURES: list[Behaviour | BadVectors] = [
    ServerError(500),
    RateLimited(retry_after=0),
    ConnectionReset(),
    MalformedJSON(),
    Unauthorized(),
    InvalidRequest(),
    BadVectors("nan"),
    BadVectors("short"),
]


@dataclass(frozen=True)
class Mapping_:
    """How one provider serves one alias: a model by its name, or a deployment whose
    identity (model_attributes `model`) is one of the models."""

    model: str
    deployment: str | None

    @property
    def provider_model(self) -> str:
        return self.deployment or self.model


@dataclass(frozen=True)
class Provider:
    id: str
    protocol: Protocol
    residency: str
    aliases: dict[str, Mapping_]
    failures: tuple[Behaviour | BadVectors, ...]

    def spec(self, fake: FakeProvider) -> ProviderSpec:
        models = {"default": f"chat-{self.id}"}
        facts: dict[str, dict[str, Any]] = {}
        for alias, mapping in self.aliases.items():
            models[alias] = mapping.provider_model
            if mapping.deployment is not None:
                facts[mapping.deployment] = {"model": mapping.model}
        return ProviderSpec(
            self.id,
            fake,
            attributes={"residency": self.residency},
            models=models,
            model_attributes=facts,
        )


@dataclass(frozen=True)
class Scenario:
    providers: list[Provider]
    aliases: dict[str, dict[str, Any]]  # the `embeddings` section
    requested: str
    residency: str | None


@st.composite
def provider_list(draw: st.DrawFn) -> list[Provider]:
    count = draw(st.integers(2, 4))
    # Most providers serve an alias's usual model, so most configs are valid ones.
    usual = {alias: draw(st.sampled_from(MODELS)) for alias in ALIASES}
    providers = []
    for n in range(count):
        aliases = {}
        for alias in draw(st.sets(st.sampled_from(ALIASES), min_size=1)):
            model = draw(st.sampled_from([usual[alias]] * 10 + MODELS))
            # A deployment name may be shared across providers while serving other models.
            deployment = draw(st.none() | st.sampled_from(["dep-1", "dep-2"]))
            aliases[alias] = Mapping_(model, deployment)
        if len({m.provider_model for m in aliases.values()}) < len(aliases):
            # Two aliases on one provider mapping one name would make it both; keep apart.
            aliases = dict(list(aliases.items())[:1])
        providers.append(
            Provider(
                id=f"p{n}",
                protocol=draw(st.sampled_from(PROTOCOLS)),
                residency=draw(st.sampled_from(["eu", "us"])),
                aliases=aliases,
                failures=tuple(draw(st.lists(st.sampled_from(FAILURES), max_size=3))),
            )
        )
    return providers


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    providers = draw(provider_list())
    used = sorted({a for p in providers for a in p.aliases})
    section: dict[str, dict[str, Any]] = {}
    for alias in used:
        section[alias] = draw(
            st.sampled_from(
                [{}, {"model_agnostic": True}, {"model": MODELS[0]}, {"model": MODELS[1]}]
            )
        )
    names = used + MODELS + ["dep-1", "dep-2"]
    return Scenario(
        providers=providers,
        aliases=section,
        requested=draw(st.sampled_from(names)),
        residency=draw(st.sampled_from([None, "eu"])),
    )


def identities(scenario: Scenario, alias: str) -> set[str]:
    return {p.aliases[alias].model for p in scenario.providers if alias in p.aliases}


def mixes(scenario: Scenario) -> bool:
    """Whether a non-agnostic alias spans two models, or names a model its providers lack."""
    for alias, entry in scenario.aliases.items():
        if entry.get("model_agnostic"):
            continue
        models = identities(scenario, alias)
        if len(models) > 1 or ("model" in entry and models != {entry["model"]}):
            return True
    return False


def expected_model(scenario: Scenario) -> str | None:
    """The model the requested name stands for; None: any (a model-agnostic alias)."""
    name = scenario.requested
    if name in scenario.aliases:
        if scenario.aliases[name].get("model_agnostic"):
            return None
        return identities(scenario, name).pop()
    if name in MODELS:
        return name
    # A deployment name: served only while every provider mapping it serves one model.
    models = {
        m.model for p in scenario.providers for m in p.aliases.values() if m.deployment == name
    }
    return models.pop() if len(models) == 1 else "unserved"


def sent_model(provider: Provider, provider_model: str) -> str:
    for mapping in provider.aliases.values():
        if mapping.provider_model == provider_model:
            return mapping.model
    raise AssertionError(f"{provider.id} was sent {provider_model}, which it does not map")


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
async def test_no_embedding_request_reaches_a_provider_of_another_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenario: Scenario
) -> None:
    async with AsyncExitStack() as stack:
        fakes: dict[str, FakeProvider] = {}
        for p in scenario.providers:
            fake = await stack.enter_async_context(FakeProvider(p.protocol, name=p.id))
            fake.script_embeddings(*p.failures)
            fakes[p.id] = fake
        specs = [p.spec(fakes[p.id]) for p in scenario.providers]
        try:
            config = build_settings(tmp_path / uuid.uuid4().hex, specs, embeddings=scenario.aliases)
        except ConfigError as error:
            assert mixes(scenario), f"a config that keeps to one model was refused: {error}"
            event("config refused: it would mix models")
            return
        assert not mixes(scenario), "a config whose alias spans two models was accepted"
        running = await start_sidecar(config, monkeypatch)
        stack.push_async_callback(running.stop)
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=running.url, timeout=10))
        headers = {"X-Tenant-ID": "sandbox"}
        if scenario.residency:
            headers["X-Data-Residency"] = scenario.residency
        dry_run = await http.post(
            "/v1/decisions",
            json={
                "tenant": "sandbox",
                "residency": scenario.residency,
                "model": scenario.requested,
                "operation": "embeddings",
            },
        )
        allowed = set(dry_run.json()["decision"]["allowed"])
        reply = await http.post(
            "/v1/embeddings",
            json={"model": scenario.requested, "input": ["alpha", "beta"]},
            headers=headers,
        )
        received = {pid for pid, fake in fakes.items() if fake.received}
        assert received <= allowed, f"sent outside the allowed set: {received - allowed}"
        wanted = expected_model(scenario)
        event(f"status {reply.status_code}")
        if wanted == "unserved":
            assert reply.status_code == 404
        by_provider = {p.id: p for p in scenario.providers}
        for pid, fake in fakes.items():
            for call in fake.embedding_calls():
                provider = by_provider[pid]
                sent = fake.embedding_model(call) or call.json["model"]
                if wanted is None:
                    assert scenario.requested in provider.aliases
                else:
                    assert sent_model(provider, sent) == wanted, (pid, sent, scenario)
        if reply.status_code == 200 and wanted is not None:
            assert reply.headers["x-routed-model"] == wanted

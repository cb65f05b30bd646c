"""The `embeddings` config section: each alias is one model's vector space, or says it
is model-agnostic; anything that could mix spaces is refused at startup, naming why."""

from __future__ import annotations

from typing import Any

import pytest

from policy_engine._config import Settings, parse_config
from policy_engine._errors import ConfigError


def provider(pid: str, adapter: str, models: dict[str, str], **extra: Any) -> dict[str, Any]:
    entry = {
        "id": pid,
        "adapter": adapter,
        "base_url": f"https://{pid}.example",
        "models": {"default": f"chat-{pid}", **models},
        **extra,
    }
    if adapter == "azure_openai":
        entry["options"] = {"api_version": "2024-10-21"}
    return entry


def config(providers: list[dict[str, Any]], embeddings: dict[str, Any]) -> Settings:
    raw = {
        "providers": providers,
        "embeddings": embeddings,
        "audit": {"dir": "/tmp/audit", "signing_key_file": "/tmp/key.pem"},
    }
    return parse_config(raw)


def refusal(providers: list[dict[str, Any]], embeddings: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        config(providers, embeddings)
    return caught.value.message


OPENAI = provider("openai-us", "openai", {"embed": "text-embedding-3-small"})
AZURE = provider(
    "azure-eu",
    "azure_openai",
    {"embed": "small-deploy"},
    model_attributes={"small-deploy": {"model": "text-embedding-3-small"}},
)
MISTRAL = provider("mistral-eu", "openai", {"embed": "mistral-embed"})


def test_the_same_model_on_two_clouds_is_one_alias() -> None:
    settings = config([OPENAI, AZURE], {"embed": {"model": "text-embedding-3-small"}})
    assert settings.embeddings["embed"].model == "text-embedding-3-small"


def test_without_a_pinned_model_the_alias_is_the_one_its_providers_serve() -> None:
    assert config([OPENAI, AZURE], {"embed": {}}).embeddings["embed"].model is None


def test_an_alias_spanning_two_models_is_refused_naming_the_provider_and_the_ways_out() -> None:
    message = refusal([OPENAI, MISTRAL], {"embed": {}})
    assert "mistral-eu serves mistral-embed" in message
    assert "model_agnostic" in message


def test_a_pinned_model_no_provider_of_the_alias_serves_is_refused() -> None:
    message = refusal([OPENAI, AZURE], {"embed": {"model": "text-embedding-3-large"}})
    assert "openai-us serves text-embedding-3-small" in message


def test_a_deployment_whose_model_is_not_stated_counts_as_another_model() -> None:
    bare = provider("azure-eu", "azure_openai", {"embed": "small-deploy"})
    assert "azure-eu serves small-deploy" in refusal([OPENAI, bare], {"embed": {}})


def test_a_model_agnostic_alias_may_span_models() -> None:
    settings = config([OPENAI, MISTRAL], {"embed": {"model_agnostic": True}})
    assert settings.embeddings["embed"].model_agnostic


def test_a_pinned_model_and_model_agnostic_together_are_refused() -> None:
    message = refusal([OPENAI], {"embed": {"model": "x", "model_agnostic": True}})
    assert "not both" in message


def test_an_adapter_without_an_embeddings_api_is_refused() -> None:
    claude = provider("anthropic-us", "anthropic", {"embed": "claude"})
    assert "no embeddings API" in refusal([OPENAI, claude], {"embed": {"model_agnostic": True}})


def test_the_chat_default_alias_cannot_be_an_embedding_alias() -> None:
    assert "'default'" in refusal([OPENAI], {"default": {}})


def test_an_alias_no_provider_maps_is_refused() -> None:
    assert "no provider maps" in refusal([OPENAI], {"embedder": {}})


def test_a_chat_alias_on_the_same_provider_model_is_refused() -> None:
    both = provider("openai-us", "openai", {"embed": "e-3", "smart": "e-3"})
    assert "maps smart to the same model e-3" in refusal([both], {"embed": {}})


def test_two_embedding_aliases_may_share_a_model() -> None:
    both = provider("openai-us", "openai", {"embed": "e-3", "search": "e-3"})
    assert set(config([both], {"embed": {}, "search": {}}).embeddings) == {"embed", "search"}


def test_an_unknown_field_in_an_alias_is_refused() -> None:
    assert "model_agnostics" in refusal([OPENAI], {"embed": {"model_agnostics": True}})


def test_dimensions_of_an_embedding_model_must_be_positive() -> None:
    sized = provider(
        "openai-us",
        "openai",
        {"embed": "e-3"},
        model_attributes={"e-3": {"dimensions": 0}},
    )
    assert "dimensions" in refusal([sized], {"embed": {}})

"""The `embeddings` config section: which aliases are embedding models, and the rule
that keeps each one to one vector space, checked at startup.

Vectors of different models live in different spaces: a search index built with one
model returns nonsense for a query embedded by another, silently. So an embedding
alias names one model, and every provider that maps the alias must serve that model
(its `model_attributes` identity: the same model on another cloud or region counts),
unless the alias is marked `model_agnostic`. A config that breaks this is refused.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, model_validator

from adapters import EMBEDDING_ADAPTERS

if TYPE_CHECKING:
    from policy_engine._config import ProviderConfig


class EmbeddingAlias(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = Field(
        None,
        pattern=r"^[\x21-\x7e]{1,128}$",
        description="The one embedding model whose vectors this alias returns (its identity "
        "across providers, as model_attributes' `model`); default: the one model every "
        "provider mapping the alias serves",
    )
    model_agnostic: bool = Field(
        False,
        description="Any provider mapping the alias may answer, whatever its model: for "
        "callers that compare vectors only within one answer, never against an index",
    )

    @model_validator(mode="after")
    def _one_or_the_other(self) -> EmbeddingAlias:
        if self.model is not None and self.model_agnostic:
            raise ValueError("set model or model_agnostic: true, not both")
        return self


def identity(provider: ProviderConfig, model: str) -> str:
    """A provider model's identity across providers: model_attributes' `model`, else its name."""
    return provider.model_facts(model).model or model


def check_embedding_aliases(
    aliases: dict[str, EmbeddingAlias], providers: Sequence[ProviderConfig]
) -> None:
    """Raise ValueError naming the first alias that could mix vector spaces or reach a
    provider without an embeddings API."""
    for alias, entry in aliases.items():
        if alias == "default":
            raise ValueError("embeddings: 'default' is the chat alias every provider maps")
        serving = [p for p in providers if alias in p.models]
        if not serving:
            raise ValueError(f"embeddings.{alias}: no provider maps this alias under models")
        for p in serving:
            if p.adapter not in EMBEDDING_ADAPTERS:
                raise ValueError(
                    f"embeddings.{alias}: provider {p.id} uses adapter {p.adapter}, which has "
                    f"no embeddings API (one of {', '.join(EMBEDDING_ADAPTERS)})"
                )
            _not_a_chat_model(alias, p, aliases.keys())
        if not entry.model_agnostic:
            _one_model(alias, entry.model, serving)


def _one_model(alias: str, pinned: str | None, serving: Sequence[ProviderConfig]) -> None:
    models = {p.id: identity(p, p.models[alias]) for p in serving}
    wanted = pinned if pinned is not None else models[serving[0].id]
    others = {pid: model for pid, model in models.items() if model != wanted}
    if others:
        found = ", ".join(f"{pid} serves {model}" for pid, model in sorted(others.items()))
        raise ValueError(
            f"embeddings.{alias}: the alias is embedding model {wanted}, but {found}: vectors "
            "of another model are in another space. Map the alias to the same model (state "
            "an Azure deployment's model in model_attributes), use another alias, or set "
            "model_agnostic: true"
        )


def _not_a_chat_model(alias: str, provider: ProviderConfig, embedding: Collection[str]) -> None:
    """A chat alias mapped to the same provider model would send chat to an embedding model."""
    model = provider.models[alias]
    chat = sorted(a for a, m in provider.models.items() if m == model and a not in embedding)
    if chat:
        raise ValueError(
            f"embeddings.{alias}: provider {provider.id} maps {', '.join(chat)} to the same "
            f"model {model}, which serves embeddings only"
        )

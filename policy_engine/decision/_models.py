"""The typed decision the policy returns, checked before anything trusts it."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from policy_engine._errors import PolicyUnavailable


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Obligations(_Frozen):
    redact: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    allow_refusal_fallback: bool = False


class Constraints(_Frozen):
    residency: str | None = None
    privacy_tags: tuple[str, ...] = ()
    task_class: str | None = None  # the class whose quality floor is in force
    quality_floor: float | None = None


class PolicyDecision(_Frozen):
    """What the policy allows for one routing context, and under which obligations."""

    revision: str
    tenant_known: bool
    allowed: tuple[str, ...]
    denied: dict[str, tuple[str, ...]]
    obligations: Obligations
    preference: tuple[str, ...] = ()
    constraints: Constraints = Field(default_factory=Constraints)

    @model_validator(mode="after")
    def _consistent(self) -> PolicyDecision:
        both = set(self.allowed) & set(self.denied)
        if both:
            raise ValueError(f"providers both allowed and denied: {sorted(both)}")
        missing = [p for p in self.allowed if p not in self.obligations.redact]
        if missing:
            raise ValueError(f"allowed providers without redaction obligations: {missing}")
        stray = [p for p in self.preference if p not in self.allowed]
        if stray:
            raise ValueError(f"preference names providers that are not allowed: {stray}")
        return self

    def summary(self) -> dict[str, Any]:
        """A log- and audit-safe view: ids, reasons and obligations, nothing from the request.

        Built once: a cached decision serves many requests, each of which puts this view
        in its audit record. Callers read it and must not change it.
        """
        return self._summary

    @cached_property
    def allowed_redact(self) -> dict[str, frozenset[str]]:
        """Each allowed provider, and only those, with the types to redact for it.

        Built once: a cached decision plans many requests. The policy may name denied
        providers in its obligations too; they are not keys here.
        """
        return {provider: frozenset(self.obligations.redact[provider]) for provider in self.allowed}

    @cached_property
    def preference_rank(self) -> dict[str, int]:
        """Each preferred provider's place in `preference` (built once per decision)."""
        return {provider: rank for rank, provider in enumerate(self.preference)}

    @cached_property
    def _summary(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "tenant_known": self.tenant_known,
            "allowed": list(self.allowed),
            "denied": {k: list(v) for k, v in sorted(self.denied.items())},
            "obligations": {
                "redact": {k: list(v) for k, v in sorted(self.obligations.redact.items())},
                "allow_refusal_fallback": self.obligations.allow_refusal_fallback,
            },
            "preference": list(self.preference),
            "constraints": {
                "residency": self.constraints.residency,
                "privacy_tags": list(self.constraints.privacy_tags),
                "task_class": self.constraints.task_class,
                "quality_floor": self.constraints.quality_floor,
            },
        }


def parse_decision(result: Any, revision: str, catalog: frozenset[str]) -> PolicyDecision:
    """Validate a raw policy result; anything unexpected fails closed."""
    if result is None:
        raise PolicyUnavailable("undefined", "the policy returned no decision")
    if not isinstance(result, dict):
        raise PolicyUnavailable(
            "malformed", f"decision is a {type(result).__name__}, not an object"
        )
    try:
        decision = PolicyDecision.model_validate({**result, "revision": revision})
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise PolicyUnavailable("malformed", f"decision.{where}: {first['msg']}") from None
    unknown = [p for p in decision.allowed if p not in catalog]
    if unknown:
        raise PolicyUnavailable("malformed", f"decision allows unknown providers {unknown}")
    return decision

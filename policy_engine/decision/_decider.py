"""Asks the policy engine for a decision and refuses anything it cannot trust."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Protocol

from policy_engine._config import Settings
from policy_engine._context import RoutingContext, policy_input
from policy_engine._errors import PolicyUnavailable
from policy_engine.decision._embedded import EmbeddedEngine
from policy_engine.decision._models import PolicyDecision, parse_decision
from policy_engine.decision._opa import OpaEngine


class DecisionEngine(Protocol):
    """One Rego evaluation backend: an OPA server or the embedded interpreter."""

    @property
    def revision(self) -> str: ...

    async def evaluate(self, policy_input: dict[str, Any]) -> tuple[Any, str]:
        """The raw entrypoint value (None when undefined) and the revision it came from."""
        ...

    async def ready(self) -> bool: ...

    async def close(self) -> None: ...


def engine_from_settings(settings: Settings) -> DecisionEngine:
    policy = settings.policy
    if policy.opa_url:
        return OpaEngine(policy.opa_url, policy.entrypoint, policy.timeout_ms)
    return EmbeddedEngine(policy.policy_dir, policy.entrypoint)


class Decider:
    def __init__(
        self, engine: DecisionEngine, catalog: Mapping[str, Any], timeout_ms: float
    ) -> None:
        self.engine = engine
        self._catalog = catalog
        self._provider_ids = frozenset(catalog)
        self._timeout = timeout_ms / 1000

    def input_for(self, context: RoutingContext) -> dict[str, Any]:
        return policy_input(context, self._catalog)

    async def decide(self, context: RoutingContext) -> PolicyDecision:
        try:
            async with asyncio.timeout(self._timeout):
                result, revision = await self.engine.evaluate(self.input_for(context))
        except TimeoutError:
            raise PolicyUnavailable("timeout", "the policy engine did not answer in time") from None
        return parse_decision(result, revision, self._provider_ids)

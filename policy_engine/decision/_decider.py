"""Asks the policy engine for a decision and refuses anything it cannot trust."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Protocol

from policy_engine._config import Settings
from policy_engine._context import RoutingContext, policy_input, provider_catalog
from policy_engine._errors import PolicyUnavailable
from policy_engine.decision._embedded import REQUEST_FIELDS, EmbeddedEngine
from policy_engine.decision._models import PolicyDecision, parse_decision


class DecisionEngine(Protocol):
    """One Rego evaluation backend: an OPA server or the embedded interpreter."""

    @property
    def revision(self) -> str: ...

    @property
    def cache_fields(self) -> frozenset[str] | None:
        """Request fields a decision may depend on, or None when decisions must not be cached."""
        ...

    async def evaluate(self, policy_input: dict[str, Any]) -> tuple[Any, str]:
        """The raw entrypoint value (None when undefined) and the revision it came from."""
        ...

    async def ready(self) -> bool: ...

    async def close(self) -> None: ...


def engine_from_settings(settings: Settings, workers: int = 1) -> DecisionEngine:
    """The configured engine; an embedded one evaluates on `workers` threads (the
    sidecar one, reports that evaluate many contexts at once one per core)."""
    policy = settings.policy
    if policy.opa_url:
        # Imported only for a policy served by OPA: its REST client (opa-python-client,
        # requests, aiohttp) costs every sidecar process ~12 MB, the embedded engine none.
        from policy_engine.decision._opa import OpaEngine

        return OpaEngine(policy.opa_url, policy.entrypoint, policy.timeout_ms)
    return EmbeddedEngine(policy.policy_dir, policy.entrypoint, workers)


def decider_from_settings(settings: Settings, engine: DecisionEngine) -> Decider:
    return Decider(
        engine, provider_catalog(settings), settings.policy.timeout_ms, settings.policy.cache_size
    )


class DecisionCache:
    """A bounded LRU of validated decisions, keyed by policy revision and routing context.

    The revision is part of every key, so a decision is never served under another
    revision: a reload makes every old entry unreachable, and they age out.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[Any, ...], PolicyDecision] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> PolicyDecision | None:
        decision = self._entries.get(key)
        if decision is not None:
            self._entries.move_to_end(key)
        return decision

    def put(self, key: tuple[Any, ...], decision: PolicyDecision) -> None:
        self._entries[key] = decision
        self._entries.move_to_end(key)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class Decider:
    def __init__(
        self,
        engine: DecisionEngine,
        catalog: Mapping[str, Any],
        timeout_ms: float,
        cache_size: int = 0,
    ) -> None:
        self.engine = engine
        self._catalog = catalog
        self._provider_ids = frozenset(catalog)
        self._timeout = timeout_ms / 1000
        self.cache = DecisionCache(cache_size) if cache_size > 0 else None
        self._pending: dict[tuple[Any, ...], asyncio.Future[PolicyDecision]] = {}

    def input_for(self, context: RoutingContext) -> dict[str, Any]:
        return policy_input(context, self._catalog)

    def _cache_key(self, context: RoutingContext) -> tuple[Any, ...] | None:
        fields = self.engine.cache_fields
        if self.cache is None or fields is None:
            return None
        return (
            self.engine.revision,
            context.tenant,
            *(getattr(context, name) if name in fields else None for name in REQUEST_FIELDS),
        )

    async def decide(self, context: RoutingContext) -> PolicyDecision:
        key = self._cache_key(context)
        if key is None or self.cache is None:
            return await self._evaluate(context)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        # Requests that miss on the same key while it is being evaluated (after a start
        # or a policy reload, many at once) share that one evaluation. It runs as its own
        # task, so a requester that goes away does not cancel it for the others.
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._evaluate_into_cache(key, context))
            pending.add_done_callback(_retrieve)
            self._pending[key] = pending
        return await asyncio.shield(pending)

    async def _evaluate_into_cache(
        self, key: tuple[Any, ...], context: RoutingContext
    ) -> PolicyDecision:
        try:
            decision = await self._evaluate(context)
        finally:
            del self._pending[key]
        if self.cache is not None and decision.revision == key[0]:
            self.cache.put(key, decision)
        return decision

    async def _evaluate(self, context: RoutingContext) -> PolicyDecision:
        try:
            async with asyncio.timeout(self._timeout):
                result, revision = await self.engine.evaluate(self.input_for(context))
        except TimeoutError:
            raise PolicyUnavailable("timeout", "the policy engine did not answer in time") from None
        return parse_decision(result, revision, self._provider_ids)


def _retrieve(future: asyncio.Future[PolicyDecision]) -> None:
    """Mark a shared evaluation's error as seen: its requesters may all have gone."""
    if not future.cancelled():
        future.exception()

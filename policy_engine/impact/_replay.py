"""Decision inputs read back from outcome records, and their decisions under a proposal.

An outcome record holds everything the policy saw: `tenant`, `context` (which is
`input.request`), `input.budget` and `input.catalog`, the revision of the provider
catalog kept beside the log. The replay rebuilds that input, swaps in the proposed
catalog when there is one, and evaluates the proposed policy on it with the embedded
engine, one evaluation per distinct input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from policy_engine.audit import Record
from policy_engine.decision import EmbeddedEngine, PolicyDecision, parse_decision, read_catalog


@dataclass(frozen=True, slots=True)
class RecordedDecision:
    """One outcome record, reduced to the decision input and what the decision was."""

    seq: int
    at: str
    request_id: str
    tenant: str
    request: dict[str, Any]  # the record's `context`: input.request as the policy saw it
    budget: dict[str, Any]
    catalog: str | None  # the catalog revision the record names (None: recorded before it)
    before: dict[str, Any] | None  # the record's `policy` block (None: no decision was made)
    outcome: str
    provider: str | None

    @property
    def residency(self) -> str | None:
        value = self.request.get("residency")
        return value if isinstance(value, str) else None

    @property
    def privacy_tags(self) -> tuple[str, ...]:
        tags = self.request.get("privacy_tags")
        return tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else ()

    @property
    def model(self) -> str:
        return str(self.request.get("model", "default"))


_NO_BUDGET: dict[str, Any] = {"exhausted": [], "remaining": {}}


def recorded_decision(record: Record) -> RecordedDecision | None:
    """The decision input of an outcome record, or None when the request never reached
    the policy (refused before: bad request, unauthenticated, rate limited...)."""
    event = record.event
    if record.kind != "request":
        return None
    tenant, request = event.get("tenant"), event.get("context")
    if not isinstance(tenant, str) or not isinstance(request, dict):
        return None
    policy = event.get("policy")
    recorded_input = event.get("input")
    budget: Any = _NO_BUDGET
    catalog: Any = None
    if isinstance(recorded_input, dict):
        budget = recorded_input.get("budget", _NO_BUDGET)
        catalog = recorded_input.get("catalog")
    provider = event.get("provider")
    return RecordedDecision(
        seq=record.seq,
        at=record.at,
        request_id=str(event.get("request_id", "")),
        tenant=tenant,
        request=request,
        budget=budget if isinstance(budget, dict) else _NO_BUDGET,
        catalog=catalog if isinstance(catalog, str) else None,
        before=policy if isinstance(policy, dict) else None,
        outcome=str(event.get("outcome", "")),
        provider=provider if isinstance(provider, str) else None,
    )


class Catalogs:
    """The catalogs records name, read once each from the audit directory.

    A record written before catalogs were kept, or naming one that is missing or
    damaged, is replayed with `fallback` (the current config's) and counted.
    """

    def __init__(self, audit_dir: Path, fallback: Mapping[str, Any]) -> None:
        self._dir = audit_dir
        self.fallback = dict(fallback)
        self._read: dict[str, dict[str, Any] | None] = {}

    def recorded(self, revision: str | None) -> dict[str, Any] | None:
        if revision is None:
            return None
        if revision not in self._read:
            self._read[revision] = read_catalog(self._dir, revision)
        return self._read[revision]


class Replayer:
    """The proposed policy's decision for a recorded input, one evaluation per distinct input.

    Request fields the policy never names cannot change its result (the sidecar's own
    decision cache relies on the same fact), so they stay out of the memo key.
    """

    def __init__(self, engine: EmbeddedEngine) -> None:
        self._engine = engine
        self._memo: dict[bytes, PolicyDecision] = {}
        self.evaluations = 0

    @property
    def revision(self) -> str:
        return self._engine.revision

    async def decide(
        self, item: RecordedDecision, catalog: Mapping[str, Any], catalog_key: str
    ) -> PolicyDecision:
        fields = self._engine.cache_fields or frozenset()
        key = orjson.dumps(
            [
                item.tenant,
                {k: v for k, v in item.request.items() if k in fields},
                item.budget if "budget" in fields else None,
                catalog_key,
            ],
            option=orjson.OPT_SORT_KEYS,
        )
        decision = self._memo.get(key)
        if decision is None:
            policy_input = {
                "tenant": item.tenant,
                "request": item.request,
                "budget": item.budget,
                "providers": dict(catalog),
            }
            result, revision = await self._engine.evaluate(policy_input)
            decision = parse_decision(result, revision, frozenset(catalog))
            self._memo[key] = decision
            self.evaluations += 1
        return decision

"""What a proposed policy (and catalog) would have changed, request by request and per
tenant, residency, privacy tags and model alias.

The baseline is what each record says was decided; the proposal is replayed on the
same input. A request changes when its allowed set, its obligations, whether any
allowed provider serves its model, or the number of failure domains left for it
(down to one: a single point of failure) would differ.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from policy_engine._config import ProviderAttributes, ProviderConfig
from policy_engine._errors import PolicyUnavailable
from policy_engine.decision import PolicyDecision, catalog_revision
from policy_engine.impact._replay import Catalogs, RecordedDecision, Replayer
from policy_engine.resilience import failure_domains

FailOn = Literal["any", "newly-denied", "newly-allowed", "added", "removed", "obligations", "spof"]
FAIL_ON: tuple[FailOn, ...] = (
    "any",
    "newly-denied",
    "newly-allowed",
    "added",
    "removed",
    "obligations",
    "spof",
)


@dataclass(frozen=True, slots=True)
class Side:
    """One decision for a request, reduced to what the report compares."""

    allowed: frozenset[str]
    redact: Mapping[str, frozenset[str]]
    refusal_fallback: bool
    route: tuple[str, ...]  # allowed providers serving the request's model alias
    domains: int  # failure domains the route spans
    reasons: Mapping[str, tuple[str, ...]]  # denied provider -> reasons
    failed: str | None = None  # the policy could not decide (it would fail closed)


@dataclass(frozen=True, slots=True)
class RequestImpact:
    item: RecordedDecision
    before: Side | None  # None: the request was refused before a decision was made
    after: Side
    catalog_assumed: bool  # the record's catalog was not found; the current one was used

    @property
    def newly_denied(self) -> bool:
        return self.before is not None and bool(self.before.route) and not self.after.route

    @property
    def newly_allowed(self) -> bool:
        return (self.before is None or not self.before.route) and bool(self.after.route)

    @property
    def added(self) -> frozenset[str]:
        return self.after.allowed - (self.before.allowed if self.before else frozenset())

    @property
    def removed(self) -> frozenset[str]:
        return (self.before.allowed if self.before else frozenset()) - self.after.allowed

    @property
    def obligations(self) -> tuple[str, ...]:
        """`provider: +TYPE` / `-TYPE` for each provider allowed before and after."""
        if self.before is None:
            return ()
        changes: list[str] = []
        for provider in sorted(self.before.allowed & self.after.allowed):
            was = self.before.redact.get(provider, frozenset())
            now = self.after.redact.get(provider, frozenset())
            changes += [f"{provider}: +{t}" for t in sorted(now - was)]
            changes += [f"{provider}: -{t}" for t in sorted(was - now)]
        if self.before.refusal_fallback != self.after.refusal_fallback:
            changes.append(f"allow_refusal_fallback: {str(self.after.refusal_fallback).lower()}")
        return tuple(changes)

    @property
    def spof_introduced(self) -> bool:
        return self.before is not None and self.before.domains >= 2 and self.after.domains == 1

    @property
    def changed(self) -> bool:
        return bool(
            self.newly_denied
            or self.newly_allowed
            or self.added
            or self.removed
            or self.obligations
            or self.spof_introduced
        )

    def to_json(self) -> dict[str, Any]:
        item = self.item
        return {
            "seq": item.seq,
            "request_id": item.request_id,
            "at": item.at,
            "outcome": item.outcome,
            "provider": item.provider,
            "newly_denied": self.newly_denied,
            "newly_allowed": self.newly_allowed,
            "added": sorted(self.added),
            "removed": sorted(self.removed),
            "obligations": list(self.obligations),
            "spof_introduced": self.spof_introduced,
            "route_before": None if self.before is None else list(self.before.route),
            "route_after": list(self.after.route),
            "failed": self.after.failed,
            "catalog_assumed": self.catalog_assumed,
        }


GroupKey = tuple[str, str | None, tuple[str, ...], str]  # tenant, residency, tags, alias


@dataclass(slots=True)
class GroupImpact:
    """Every replayed request of one tenant, residency, tag set and model alias."""

    key: GroupKey
    requests: int = 0
    changed: list[RequestImpact] = field(default_factory=list)
    added: Counter[str] = field(default_factory=Counter)
    removed: Counter[str] = field(default_factory=Counter)
    obligations: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)  # why removed providers are denied

    def count(self, what: str) -> int:
        return sum(1 for impact in self.changed if getattr(impact, what))

    def to_json(self) -> dict[str, Any]:
        tenant, residency, tags, alias = self.key
        return {
            "tenant": tenant,
            "residency": residency,
            "privacy_tags": list(tags),
            "model": alias,
            "requests": self.requests,
            "changed": len(self.changed),
            "newly_denied": self.count("newly_denied"),
            "newly_allowed": self.count("newly_allowed"),
            "spof_introduced": self.count("spof_introduced"),
            "added": dict(sorted(self.added.items())),
            "removed": dict(sorted(self.removed.items())),
            "obligations": dict(sorted(self.obligations.items())),
            "reasons": dict(sorted(self.reasons.items())),
            "requests_changed": [impact.to_json() for impact in self.changed],
        }


@dataclass(slots=True)
class ImpactReport:
    proposed_revision: str
    proposed_catalog: str | None  # its revision; None: each record's own catalog
    baseline_revisions: Counter[str] = field(default_factory=Counter)
    records: int = 0  # outcome records in the window
    skipped: Counter[str] = field(default_factory=Counter)  # not replayed, by why
    catalog_assumed: int = 0
    evaluations: int = 0
    groups: dict[GroupKey, GroupImpact] = field(default_factory=dict)

    @property
    def changed(self) -> list[RequestImpact]:
        return [impact for group in self.groups.values() for impact in group.changed]

    def total(self, what: str) -> int:
        return sum(group.count(what) for group in self.groups.values())

    def failures(self, conditions: Iterable[FailOn]) -> list[str]:
        """The `--fail-on` conditions this report meets, each with its count."""
        changed = self.changed
        counts: dict[FailOn, int] = {
            "any": len(changed),
            "newly-denied": sum(i.newly_denied for i in changed),
            "newly-allowed": sum(i.newly_allowed for i in changed),
            "added": sum(bool(i.added) for i in changed),
            "removed": sum(bool(i.removed) for i in changed),
            "obligations": sum(bool(i.obligations) for i in changed),
            "spof": sum(i.spof_introduced for i in changed),
        }
        return [f"{c}: {counts[c]} requests" for c in dict.fromkeys(conditions) if counts[c]]

    def to_json(self) -> dict[str, Any]:
        changed = self.changed
        return {
            "proposed_revision": self.proposed_revision,
            "proposed_catalog": self.proposed_catalog,
            "baseline_revisions": dict(sorted(self.baseline_revisions.items())),
            "summary": {
                "records": self.records,
                "replayed": sum(group.requests for group in self.groups.values()),
                "skipped": dict(sorted(self.skipped.items())),
                "catalog_assumed": self.catalog_assumed,
                "evaluations": self.evaluations,
                "changed": len(changed),
                "newly_denied": self.total("newly_denied"),
                "newly_allowed": self.total("newly_allowed"),
                "spof_introduced": self.total("spof_introduced"),
            },
            "groups": [
                group.to_json()
                for key, group in sorted(self.groups.items(), key=_group_order)
                if group.changed
            ],
        }


def _group_order(entry: tuple[GroupKey, GroupImpact]) -> tuple[str, str, tuple[str, ...], str]:
    tenant, residency, tags, alias = entry[0]
    return tenant, residency or "", tags, alias


def _domains(route: Iterable[str], catalog: Mapping[str, Any]) -> int:
    """Failure domains of the route by the resilience report's own rule (cloud, region)."""
    providers = [
        # Only `id` and `attributes` take part in failure_domains; a catalog has no URL,
        # adapter options or model names, so the rest is left empty.
        ProviderConfig.model_construct(
            id=provider,
            adapter="",
            base_url="",
            models={},
            attributes=ProviderAttributes.model_validate(
                catalog.get(provider, {}).get("attributes", {})
            ),
        )
        for provider in route
    ]
    return len(failure_domains(providers))


def _serves(catalog: Mapping[str, Any], provider: str, alias: str) -> bool:
    entry = catalog.get(provider)
    models = entry.get("models") if isinstance(entry, dict) else None
    return isinstance(models, list) and alias in models


def side_of_decision(decision: PolicyDecision, alias: str, catalog: Mapping[str, Any]) -> Side:
    route = tuple(p for p in decision.allowed if _serves(catalog, p, alias))
    return Side(
        allowed=frozenset(decision.allowed),
        redact={p: frozenset(decision.obligations.redact.get(p, ())) for p in decision.allowed},
        refusal_fallback=decision.obligations.allow_refusal_fallback,
        route=route,
        domains=_domains(route, catalog),
        reasons=dict(decision.denied),
    )


def side_of_record(summary: Mapping[str, Any], alias: str, catalog: Mapping[str, Any]) -> Side:
    """The recorded decision (the record's `policy` block) as a Side."""
    allowed = [p for p in summary.get("allowed") or [] if isinstance(p, str)]
    obligations = summary.get("obligations") or {}
    redact = obligations.get("redact") or {}
    route = tuple(p for p in allowed if _serves(catalog, p, alias))
    return Side(
        allowed=frozenset(allowed),
        redact={p: frozenset(redact.get(p) or ()) for p in allowed},
        refusal_fallback=obligations.get("allow_refusal_fallback") is True,
        route=route,
        domains=_domains(route, catalog),
        reasons={p: tuple(r) for p, r in (summary.get("denied") or {}).items()},
    )


def _failed(reason: str) -> Side:
    return Side(frozenset(), {}, False, (), 0, {}, failed=reason)


async def build_impact(
    items: AsyncIterable[RecordedDecision | None] | Iterable[RecordedDecision | None],
    replayer: Replayer,
    catalogs: Catalogs,
    proposed_catalog: Mapping[str, Any] | None = None,
) -> ImpactReport:
    """Replay every recorded decision (None: an outcome record with no decision input)."""
    report = ImpactReport(
        proposed_revision=replayer.revision,
        proposed_catalog=None if proposed_catalog is None else catalog_revision(proposed_catalog),
    )
    if isinstance(items, AsyncIterable):
        async for item in items:
            await _replay_one(report, item, replayer, catalogs, proposed_catalog)
    else:
        for item in items:
            await _replay_one(report, item, replayer, catalogs, proposed_catalog)
    report.evaluations = replayer.evaluations
    return report


async def _replay_one(
    report: ImpactReport,
    item: RecordedDecision | None,
    replayer: Replayer,
    catalogs: Catalogs,
    proposed_catalog: Mapping[str, Any] | None,
) -> None:
    report.records += 1
    if item is None:
        report.skipped["refused before a decision"] += 1
        return
    recorded = catalogs.recorded(item.catalog)
    assumed = recorded is None
    before_catalog = catalogs.fallback if recorded is None else recorded
    report.catalog_assumed += assumed
    after_catalog = before_catalog if proposed_catalog is None else proposed_catalog
    after_key = (item.catalog or "current") if proposed_catalog is None else "proposed"
    try:
        after = side_of_decision(
            await replayer.decide(item, after_catalog, after_key), item.model, after_catalog
        )
    except PolicyUnavailable as error:
        after = _failed(error.message)
    before = None
    if item.before is not None:
        before = side_of_record(item.before, item.model, before_catalog)
        report.baseline_revisions[str(item.before.get("revision", "?"))] += 1
    impact = RequestImpact(item, before, after, assumed)
    key: GroupKey = (item.tenant, item.residency, item.privacy_tags, item.model)
    group = report.groups.get(key)
    if group is None:
        group = report.groups[key] = GroupImpact(key)
    group.requests += 1
    if not impact.changed:
        return
    group.changed.append(impact)
    group.added.update(impact.added)
    group.removed.update(impact.removed)
    group.obligations.update(impact.obligations)
    for provider in impact.removed:
        group.reasons.update(after.reasons.get(provider, ()))
    if after.failed is not None:
        group.reasons[f"policy unavailable: {after.failed}"] += 1

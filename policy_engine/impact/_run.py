"""The impact of a proposed policy directory (and catalog) on an audit log's window."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime
from pathlib import Path

from policy_engine._config import Settings
from policy_engine._context import provider_catalog
from policy_engine.audit import iter_records
from policy_engine.decision import EmbeddedEngine
from policy_engine.impact._replay import Catalogs, RecordedDecision, Replayer, recorded_decision
from policy_engine.impact._report import ImpactReport, build_impact


def recorded_decisions(
    audit_dir: Path,
    since: datetime | None = None,
    until: datetime | None = None,
    tenants: Collection[str] = (),
) -> Iterator[RecordedDecision | None]:
    """Every outcome record in [since, until) (and of `tenants`, when named), reduced."""
    for _, record in iter_records(audit_dir):
        if record.kind != "request":
            continue
        if since is not None or until is not None:
            at = datetime.fromisoformat(record.at)
            if (since is not None and at < since) or (until is not None and at >= until):
                continue
        if tenants and record.event.get("tenant") not in tenants:
            continue
        yield recorded_decision(record)


async def policy_impact(
    settings: Settings,
    proposed_dir: Path,
    proposed: Settings | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    tenants: Collection[str] = (),
) -> ImpactReport:
    """Replay `settings`' audit log against the policy in `proposed_dir`, and against
    `proposed`'s provider catalog when given (else each record's own)."""
    engine = EmbeddedEngine(proposed_dir, settings.policy.entrypoint)
    try:
        return await build_impact(
            recorded_decisions(settings.audit.dir, since, until, tenants),
            Replayer(engine),
            Catalogs(settings.audit.dir, provider_catalog(settings)),
            None if proposed is None else provider_catalog(proposed),
        )
    finally:
        await engine.close()

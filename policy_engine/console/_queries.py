"""The console's questions to the log index: filtered decisions, their counts over time,
the values to filter by, the policy revisions seen.

Every query is scoped to the tenants the viewer may see (a token bound to tenants sees
only theirs) before any filter applies.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from policy_engine.console._index import LogIndex

INTENT_ONLY = "intent_only"
"""The pseudo-outcome of an intent record no outcome names: in flight, or cut by a crash."""

# Bucket widths a timeline may use, in seconds; the smallest giving at most MAX_BUCKETS.
_WIDTHS = (1, 5, 10, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400)
MAX_BUCKETS = 48


@dataclass(frozen=True, slots=True)
class Filters:
    tenant: str | None = None
    provider: str | None = None
    outcome: str | None = None
    rule: str | None = None
    revision: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "provider": self.provider,
            "outcome": self.outcome,
            "rule": self.rule,
            "revision": self.revision,
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
        }


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")


def _where(filters: Filters, scope: Collection[str]) -> tuple[str, list[Any]]:
    """A WHERE clause over `records r` and its parameters. Its text is fixed: every value
    is a parameter, so the queries built around it are not open to injection."""
    if filters.outcome == INTENT_ONLY:
        clauses = [
            "r.kind = 'intent'",
            "NOT EXISTS (SELECT 1 FROM records o WHERE o.intent_seq = r.seq)",
        ]
    else:
        clauses = ["r.kind = 'request'"]
    parameters: list[Any] = []
    if scope:
        clauses.append(f"r.tenant IN ({','.join('?' * len(scope))})")
        parameters += sorted(scope)
    if filters.tenant is not None:
        clauses.append("r.tenant = ?")
        parameters.append(filters.tenant)
    if filters.outcome is not None and filters.outcome != INTENT_ONLY:
        clauses.append("r.outcome = ?")
        parameters.append(filters.outcome)
    if filters.provider is not None:
        clauses.append("EXISTS (SELECT 1 FROM attempts a WHERE a.seq = r.seq AND a.provider = ?)")
        parameters.append(filters.provider)
    if filters.rule is not None:
        clauses.append("EXISTS (SELECT 1 FROM rules x WHERE x.seq = r.seq AND x.rule = ?)")
        parameters.append(filters.rule)
    if filters.revision is not None:
        clauses.append("r.revision = ?")
        parameters.append(filters.revision)
    if filters.since is not None:
        clauses.append("r.at >= ?")
        parameters.append(filters.since.timestamp())
    if filters.until is not None:
        clauses.append("r.at < ?")
        parameters.append(filters.until.timestamp())
    return " AND ".join(clauses), parameters


@dataclass(frozen=True, slots=True)
class DecisionRow:
    seq: int
    at: str
    request_id: str | None
    tenant: str | None
    outcome: str
    status: int | None
    provider: str | None
    fallback: bool
    attempts: tuple[str, ...]
    revision: str | None
    model: str | None
    residency: str | None
    tags: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "request_id": self.request_id,
            "tenant": self.tenant,
            "outcome": self.outcome,
            "status": self.status,
            "provider": self.provider,
            "fallback": self.fallback,
            "attempts": list(self.attempts),
            "revision": self.revision,
            "model": self.model,
            "residency": self.residency,
            "privacy_tags": [t for t in self.tags.split(",") if t],
        }


@dataclass(frozen=True, slots=True)
class DecisionPage:
    total: int
    rows: tuple[DecisionRow, ...]
    next_before: int | None  # the `before` cursor of the next (older) page


def decisions(
    index: LogIndex,
    filters: Filters,
    scope: Collection[str],
    before: int | None = None,
    limit: int = 50,
) -> DecisionPage:
    where, parameters = _where(filters, scope)
    count = f"SELECT COUNT(*) FROM records r WHERE {where}"  # noqa: S608 - see _where
    total = int(index.query(count, tuple(parameters))[0][0])
    page_where = where + ("" if before is None else " AND r.seq < ?")
    page_parameters = [*parameters, *(() if before is None else (before,)), limit + 1]
    rows = index.query(
        "SELECT r.*, (SELECT group_concat(a.provider, ',') FROM attempts a WHERE a.seq = r.seq)"  # noqa: S608
        f" AS tried FROM records r WHERE {page_where} ORDER BY r.seq DESC LIMIT ?",
        tuple(page_parameters),
    )
    shown = [
        DecisionRow(
            seq=row["seq"],
            at=iso(row["at"]),
            request_id=row["request_id"],
            tenant=row["tenant"],
            outcome=row["outcome"] or (INTENT_ONLY if row["kind"] == "intent" else "-"),
            status=row["status"],
            provider=row["provider"],
            fallback=bool(row["fallback"]),
            attempts=tuple((row["tried"] or "").split(",")) if row["tried"] else (),
            revision=row["revision"],
            model=row["model"],
            residency=row["residency"],
            tags=row["tags"] or "",
        )
        for row in rows[:limit]
    ]
    more = len(rows) > limit
    return DecisionPage(total, tuple(shown), shown[-1].seq if more and shown else None)


@dataclass(frozen=True, slots=True)
class Timeline:
    start: float  # epoch seconds of the first bucket
    width: int  # seconds per bucket
    buckets: int
    outcomes: dict[str, list[int]]  # outcome -> count per bucket
    fallbacks: list[int]

    def to_json(self) -> dict[str, Any]:
        return {
            "start": iso(self.start),
            "bucket_seconds": self.width,
            "buckets": [iso(self.start + i * self.width) for i in range(self.buckets)],
            "outcomes": self.outcomes,
            "fallbacks": self.fallbacks,
        }


def timeline(index: LogIndex, filters: Filters, scope: Collection[str]) -> Timeline:
    where, parameters = _where(filters, scope)
    bounds = f"SELECT MIN(r.at), MAX(r.at) FROM records r WHERE {where}"  # noqa: S608 - see _where
    span = index.query(bounds, tuple(parameters))
    first, last = span[0][0], span[0][1]
    if first is None:
        return Timeline(0.0, 60, 0, {}, [])
    width = next((w for w in _WIDTHS if (last - first) / w < MAX_BUCKETS), _WIDTHS[-1])
    start = first - first % width
    buckets = int((last - start) // width) + 1
    outcomes: dict[str, list[int]] = {}
    fallbacks = [0] * buckets
    for row in index.query(
        f"SELECT CAST((r.at - ?) / ? AS INTEGER) AS b, COALESCE(r.outcome, ?) AS o, "  # noqa: S608
        f"COUNT(*) AS n, SUM(r.fallback) AS f FROM records r WHERE {where} GROUP BY b, o",
        (start, width, INTENT_ONLY, *parameters),
    ):
        bucket = min(int(row["b"]), buckets - 1)
        outcomes.setdefault(row["o"], [0] * buckets)[bucket] += row["n"]
        fallbacks[bucket] += row["f"] or 0
    return Timeline(start, width, buckets, dict(sorted(outcomes.items())), fallbacks)


@dataclass(frozen=True, slots=True)
class Facets:
    tenants: tuple[str, ...]
    providers: tuple[str, ...]
    outcomes: tuple[str, ...]
    rules: tuple[str, ...]
    revisions: tuple[str, ...]

    def to_json(self) -> dict[str, list[str]]:
        return {
            "tenants": list(self.tenants),
            "providers": list(self.providers),
            "outcomes": list(self.outcomes),
            "rules": list(self.rules),
            "revisions": list(self.revisions),
        }


def facets(index: LogIndex, scope: Collection[str]) -> Facets:
    """The values each filter can take, as the index kept them while it grew.

    A viewer bound to tenants is offered only those tenants; provider names, outcomes,
    rule families and revisions are not a tenant's data.
    """
    values: dict[str, list[str]] = {}
    for row in index.query("SELECT facet, value FROM facets ORDER BY facet, value"):
        values.setdefault(row["facet"], []).append(row["value"])
    tenants = values.get("tenant", [])
    return Facets(
        tenants=tuple(t for t in tenants if not scope or t in scope),
        providers=tuple(values.get("provider", [])),
        outcomes=(*values.get("outcome", []), INTENT_ONLY),
        rules=tuple(values.get("rule", [])),
        revisions=tuple(values.get("revision", [])),
    )


@dataclass(frozen=True, slots=True)
class RevisionSeen:
    revision: str
    first: str
    last: str
    requests: int
    denied: int

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "first_seen": self.first,
            "last_seen": self.last,
            "requests": self.requests,
            "denied": self.denied,
        }


def revisions(index: LogIndex, scope: Collection[str]) -> list[RevisionSeen]:
    where, parameters = _where(Filters(), scope)
    rows = index.query(
        "SELECT r.revision, MIN(r.at) AS first, MAX(r.at) AS last, COUNT(*) AS n, "  # noqa: S608
        "SUM(r.outcome = 'denied') AS denied FROM records r "
        f"WHERE {where} AND r.revision IS NOT NULL GROUP BY r.revision ORDER BY first",
        tuple(parameters),
    )
    return [
        RevisionSeen(row["revision"], iso(row["first"]), iso(row["last"]), row["n"], row["denied"])
        for row in rows
    ]

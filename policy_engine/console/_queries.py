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
# Past this many records, charts use buckets of a minute or more, read from the rollup.
_SCAN_LIMIT = 20_000


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


def _minute(moment: datetime | None) -> int | None:
    """The minute `moment` starts, or None when it falls inside a minute."""
    if moment is None:
        return None
    seconds = moment.timestamp()
    return int(seconds // 60) if seconds % 60 == 0 else None


def _rollup_where(filters: Filters, scope: Collection[str]) -> tuple[str, list[Any]] | None:
    """The same filter over the per-minute rollup, or None when the rollup cannot answer
    it (a provider and a rule at once, intents, a window that splits a minute)."""
    if filters.outcome == INTENT_ONLY or (filters.provider and filters.rule):
        return None
    since, until = _minute(filters.since), _minute(filters.until)
    if (filters.since is not None and since is None) or (
        filters.until is not None and until is None
    ):
        return None
    dim = (
        f"p:{filters.provider}" if filters.provider else f"r:{filters.rule}" if filters.rule else ""
    )
    clauses: list[str] = ["u.dim = ?"]
    parameters: list[Any] = [dim]
    if scope:
        clauses.append(f"u.tenant IN ({','.join('?' * len(scope))})")
        parameters += sorted(scope)
    for column, value in (
        ("tenant", filters.tenant),
        ("outcome", filters.outcome),
        ("revision", filters.revision),
    ):
        if value is not None:
            clauses.append(f"u.{column} = ?")
            parameters.append(value)
    if since is not None:
        clauses.append("u.minute >= ?")
        parameters.append(since)
    if until is not None:
        clauses.append("u.minute < ?")
        parameters.append(until)
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
    rolled = _rollup_where(filters, scope)
    if rolled is None:
        count = f"SELECT COUNT(*) FROM records r WHERE {where}"  # noqa: S608 - see _where
        total = int(index.query(count, tuple(parameters))[0][0])
    else:
        count = f"SELECT SUM(u.n) FROM rollup u WHERE {rolled[0]}"  # noqa: S608 - see _where
        total = int(index.query(count, tuple(rolled[1]))[0][0] or 0)
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
    """Outcomes and fallbacks per bucket: from the per-minute rollup when it can answer
    the filter and the buckets are a minute or wider, from the records otherwise."""
    rolled = _rollup_where(filters, scope)
    if rolled is not None:
        bounds = (
            f"SELECT MIN(u.minute) * 60, MAX(u.minute) * 60 + 59 FROM rollup u WHERE {rolled[0]}"  # noqa: S608 - see _where
        )
        first, last = index.query(bounds, tuple(rolled[1]))[0]
        if first is None:
            return Timeline(0.0, 60, 0, {}, [])
        if last - first >= 60 * MAX_BUCKETS or index.size > _SCAN_LIMIT:
            width = next(
                (w for w in _WIDTHS if w >= 60 and (last - first) / w < MAX_BUCKETS), _WIDTHS[-1]
            )
            select = (
                "SELECT CAST((u.minute * 60 - ?) / ? AS INTEGER) AS b, "
                "COALESCE(NULLIF(u.outcome, ''), ?) AS o, SUM(u.n) AS n, SUM(u.fallbacks) AS f "
            )
            counts = select + f"FROM rollup u WHERE {rolled[0]} GROUP BY b, o"
            return _buckets(index, counts, first, last, width, rolled[1])
    where, parameters = _where(filters, scope)
    bounds = f"SELECT MIN(r.at), MAX(r.at) FROM records r WHERE {where}"  # noqa: S608 - see _where
    first, last = index.query(bounds, tuple(parameters))[0]
    if first is None:
        return Timeline(0.0, 60, 0, {}, [])
    width = next((w for w in _WIDTHS if (last - first) / w < MAX_BUCKETS), _WIDTHS[-1])
    counts = (
        f"SELECT CAST((r.at - ?) / ? AS INTEGER) AS b, COALESCE(r.outcome, ?) AS o, "  # noqa: S608 - see _where
        f"COUNT(*) AS n, SUM(r.fallback) AS f FROM records r WHERE {where} GROUP BY b, o"
    )
    return _buckets(index, counts, first, last, width, parameters)


def _buckets(
    index: LogIndex, sql: str, first: float, last: float, width: int, parameters: list[Any]
) -> Timeline:
    start = first - first % width
    buckets = int((last - start) // width) + 1
    outcomes: dict[str, list[int]] = {}
    fallbacks = [0] * buckets
    for row in index.query(sql, (start, width, INTENT_ONLY, *parameters)):
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
    """Each revision's first and last minute, requests and denials, from the rollup."""
    rolled = _rollup_where(Filters(), scope)
    assert rolled is not None  # no filter: the rollup always answers
    rows = index.query(
        "SELECT u.revision, MIN(u.minute) AS first, MAX(u.minute) AS last, SUM(u.n) AS n, "  # noqa: S608 - see _where
        "SUM(CASE WHEN u.outcome = 'denied' THEN u.n ELSE 0 END) AS denied FROM rollup u "
        f"WHERE {rolled[0]} AND u.revision != '' GROUP BY u.revision ORDER BY first",
        tuple(rolled[1]),
    )
    return [
        RevisionSeen(
            row["revision"],
            iso(row["first"] * 60),
            iso(row["last"] * 60 + 59),
            row["n"],
            row["denied"],
        )
        for row in rows
    ]

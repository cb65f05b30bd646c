"""The report as an aligned plain-text table, for people; `to_json` is for tools."""

from __future__ import annotations

from collections.abc import Sequence

from policy_engine.resilience._domains import percent
from policy_engine.resilience._report import ResilienceReport, ResilienceRow

HEADER = (
    "tenant",
    "residency",
    "tags",
    "alias",
    "operation",
    "status",
    "domains",
    "clouds",
    "availability",
)
STATUS_TEXT = {"ok": "ok", "spof": "SPOF", "none": "NONE"}


def _detail(row: ResilienceRow) -> str:
    if row.status == "none":
        if not row.reasons:
            return "no provider"
        more = f" (+{len(row.reasons) - 1} more)" if len(row.reasons) > 1 else ""
        return f"no provider: {row.reasons[0]}{more}"
    route = ", ".join(row.route)
    if row.status == "spof":
        return f"single point of failure {row.single_point_of_failure}: {route}"
    return route


def _cells(row: ResilienceRow) -> tuple[str, ...]:
    c = row.combination
    return (
        c.tenant,
        c.residency or "-",
        ",".join(c.privacy_tags) or "-",
        c.alias,
        c.operation,
        STATUS_TEXT[row.status],
        str(len(row.domains)),
        str(len(row.clouds)),
        percent(row.availability) if row.route else "-",
    )


def _aligned(lines: Sequence[tuple[str, ...]], tails: Sequence[str]) -> list[str]:
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) + "  " + tail
        for line, tail in zip(lines, tails, strict=True)
    ]


def _counts(rows: Sequence[ResilienceRow]) -> str:
    statuses = [row.status for row in rows]
    return (
        f"combinations: {len(rows)}  ok: {statuses.count('ok')}  "
        f"single point of failure: {statuses.count('spof')}  no provider: {statuses.count('none')}"
    )


def render_table(report: ResilienceReport) -> str:
    width = max((len(t) for t in report.tenants), default=0)
    summary = [
        f"policy revision: {', '.join(report.revisions) or 'none'}",
        _counts(report.rows),
        *(
            f"  {tenant.ljust(width)}  "
            + _counts([r for r in report.rows if r.combination.tenant == tenant])
            for tenant in report.tenants
        ),
        "",
    ]
    lines = [HEADER, *(_cells(row) for row in report.rows)]
    tails = ["route (in order) / single point of failure / reason", *map(_detail, report.rows)]
    return "\n".join(summary + [line.rstrip() for line in _aligned(lines, tails)]) + "\n"

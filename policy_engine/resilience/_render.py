"""The report as an aligned plain-text table, for people; `to_json` is for tools."""

from __future__ import annotations

from collections.abc import Sequence

from policy_engine.resilience._domains import percent
from policy_engine.resilience._report import ResilienceReport, ResilienceRow

HEADER = ("tenant", "residency", "tags", "alias", "status", "domains", "clouds", "availability")
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


def render_table(report: ResilienceReport) -> str:
    summary = [
        f"policy revision: {', '.join(report.revisions) or 'none'}",
        f"combinations: {len(report.rows)}  ok: {report.count('ok')}  "
        f"single point of failure: {report.count('spof')}  no provider: {report.count('none')}",
        "",
    ]
    lines = [HEADER, *(_cells(row) for row in report.rows)]
    tails = ["route (in order) / single point of failure / reason", *map(_detail, report.rows)]
    return "\n".join(summary + [line.rstrip() for line in _aligned(lines, tails)]) + "\n"

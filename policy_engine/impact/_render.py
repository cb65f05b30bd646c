"""The impact report as plain text, for a person reading CI output; `to_json` is for tools."""

from __future__ import annotations

from collections import Counter

from policy_engine.impact._report import GroupImpact, ImpactReport

HEADER = ("tenant", "residency", "tags", "model", "requests", "changed", "denied", "spof")
REQUESTS_SHOWN = 10  # per group; --json lists them all


def _counted(counter: Counter[str]) -> str:
    return ", ".join(f"{name} ({count})" for name, count in sorted(counter.items()))


def _changes(group: GroupImpact) -> list[str]:
    lines = []
    if group.removed:
        lines.append(f"removed from the allowed set: {_counted(group.removed)}")
    if group.added:
        lines.append(f"added to the allowed set: {_counted(group.added)}")
    if group.obligations:
        lines.append(f"obligations: {_counted(group.obligations)}")
    newly_allowed = group.count("newly_allowed")
    if newly_allowed:
        lines.append(f"newly allowed: {newly_allowed}")
    lines += [f"reason: {reason} ({count})" for reason, count in sorted(group.reasons.items())]
    shown = group.changed[:REQUESTS_SHOWN]
    more = len(group.changed) - len(shown)
    lines.append(
        "requests: "
        + ", ".join(impact.item.request_id for impact in shown)
        + (f" (+{more} more)" if more else "")
    )
    return lines


def render_impact(report: ImpactReport) -> str:
    summary = report.to_json()["summary"]
    baseline = ", ".join(f"{rev} ({n})" for rev, n in sorted(report.baseline_revisions.items()))
    skipped = ", ".join(f"{why} {n}" for why, n in sorted(report.skipped.items())) or "none"
    out = [
        f"proposed policy: {report.proposed_revision}",
        f"proposed catalog: {report.proposed_catalog or 'as recorded'}",
        f"recorded under: {baseline or 'no decision recorded'}",
        f"records: {summary['records']}  replayed: {summary['replayed']}  skipped: {skipped}"
        f"  catalog assumed (not kept beside the log): {summary['catalog_assumed']}",
        f"changed: {summary['changed']}  newly denied: {summary['newly_denied']}  "
        f"newly allowed: {summary['newly_allowed']}  "
        f"single points of failure introduced: {summary['spof_introduced']}",
    ]
    groups = [g for _, g in sorted(report.groups.items(), key=lambda e: _key(e[1])) if g.changed]
    if not groups:
        return "\n".join([*out, "", "no recorded request would be decided differently"]) + "\n"
    rows = [HEADER] + [_cells(group) for group in groups]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    out.append("")
    out.append("  ".join(cell.ljust(width) for cell, width in zip(HEADER, widths, strict=True)))
    for group, row in zip(groups, rows[1:], strict=True):
        out.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        out += [f"    {line}" for line in _changes(group)]
    return "\n".join(out) + "\n"


def _key(group: GroupImpact) -> tuple[str, str, tuple[str, ...], str]:
    tenant, residency, tags, alias = group.key
    return tenant, residency or "", tags, alias


def _cells(group: GroupImpact) -> tuple[str, ...]:
    tenant, residency, tags, alias = group.key
    return (
        tenant,
        residency or "-",
        ",".join(tags) or "-",
        alias,
        str(group.requests),
        str(len(group.changed)),
        str(group.count("newly_denied")),
        str(group.count("spof_introduced")),
    )

"""The cost report as a terminal table."""

from __future__ import annotations

from collections.abc import Sequence

from policy_engine.resilience._cost import CostReport, Strategy, Tally
from policy_engine.resilience._domains import percent


def usd(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1 or value == 0:
        return f"${value:,.2f}"
    # A request costs fractions of a cent: down to a millionth of a dollar below a cent.
    return f"${value:.6f}".rstrip("0") if value < 0.01 else f"${value:.4f}"


def share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.0f} s"


def _columns(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _tally_table(title: str, rows: dict[str, Tally]) -> list[str]:
    header = [
        title,
        "requests",
        "failed",
        "fallbacks",
        "input tok",
        "output tok",
        "cost",
        "by fallbacks",
    ]
    body = [
        [
            name,
            str(t.requests),
            str(t.failed),
            share(t.fallback_share),
            f"{t.input_tokens:,}",
            f"{t.output_tokens:,}",
            usd(t.cost),
            usd(t.fallback_cost),
        ]
        for name, t in rows.items()
    ]
    return _columns([header, *body]) if body else [f"{title}: no records"]


def strategy_row(strategy: Strategy) -> list[str]:
    quality = "" if strategy.fallback_quality is None else f" ({strategy.fallback_quality:g})"
    return [
        strategy.name,
        " + ".join(strategy.providers),
        usd(strategy.cost),
        usd(strategy.monthly),
        percent(strategy.availability),
        share(strategy.served_share),
        "-" if strategy.fallback_model is None else strategy.fallback_model + quality,
    ]


def render_cost_table(report: CostReport) -> str:
    total = report.total
    since = "-" if report.since is None else report.since.isoformat(timespec="seconds")
    until = "-" if report.until is None else report.until.isoformat(timespec="seconds")
    lines = [
        f"traffic: {since} to {until} ({duration(report.window_s)}); "
        f"{total.requests} requests answered, {total.failed} not",
        f"cost: {usd(total.cost)} (projected {usd(report.monthly)} a month); "
        f"served by fallbacks: {share(total.fallback_share)} of requests, "
        f"{usd(total.fallback_cost)} of the cost",
    ]
    if total.unpriced:
        lines.append(f"{total.unpriced} requests with tokens but no price in their record")
    if report.fallback_reasons:
        reasons = ", ".join(f"{k} {v}" for k, v in report.fallback_reasons.items())
        lines.append(f"fallback reasons: {reasons}")
    for title, rows in (
        ("tenant", report.by_tenant),
        ("provider", report.by_provider),
        ("task class", report.by_task_class),
    ):
        lines += ["", *_tally_table(title, rows)]
    if report.strategies:
        header = [
            "strategy",
            "providers",
            "cost",
            "a month",
            "availability",
            "served",
            "fallback model",
        ]
        lines += [
            "",
            "the same traffic under each strategy (requests that fell back are lost without one)",
            *_columns([header, *(strategy_row(s) for s in report.strategies)]),
        ]
    lines += [f"note: {note}" for note in report.notes]
    return "\n".join(lines) + "\n"

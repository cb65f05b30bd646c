"""The cost report as one self-contained HTML page: inline CSS and SVG bar charts, no
script, no external asset, so it opens from a file or an e-mail attachment as it is."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from policy_engine.resilience._cost import CostReport, Tally
from policy_engine.resilience._cost_render import duration, share, strategy_row, usd
from policy_engine.resilience._domains import percent

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 64rem; color: #1d2433; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { text-align: right; padding: .25rem .5rem; border-bottom: 1px solid #e3e6ec; }
th:first-child, td:first-child { text-align: left; }
.summary { display: flex; gap: 1rem; flex-wrap: wrap; }
.figure { background: #f4f6fa; border-radius: .5rem; padding: .75rem 1rem; }
.figure b { display: block; font-size: 1.3rem; }
svg text { font: 12px system-ui, sans-serif; fill: #1d2433; }
.note { color: #5b6475; }
"""

_BAR = "#3e6fd8"
_FALLBACK = "#e08a2c"
_WIDTH = 640
_LABEL = 170
_ROW = 24


def _bars(rows: Sequence[tuple[str, float, float]], title: str, label: int = _LABEL) -> str:
    """Horizontal bars, one per row: its value, and the part served by fallbacks."""
    if not rows:
        return ""
    top = max(value for _, value, _ in rows) or 1.0
    scale = (_WIDTH - label - 90) / top
    height = _ROW * len(rows) + 8
    parts = [
        f'<svg role="img" aria-label="{escape(title)}" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for index, (name, value, fallback) in enumerate(rows):
        y = index * _ROW + 4
        parts.append(f'<text x="0" y="{y + 15}">{escape(name)}</text>')
        parts.append(
            f'<rect x="{label}" y="{y}" width="{value * scale:.1f}" height="18" fill="{_BAR}">'
            f"<title>{escape(name)}: {escape(usd(value))}</title></rect>"
        )
        if fallback > 0:
            parts.append(
                f'<rect x="{label}" y="{y}" width="{fallback * scale:.1f}" height="18" '
                f'fill="{_FALLBACK}"><title>served by fallbacks: {escape(usd(fallback))}'
                "</title></rect>"
            )
        parts.append(
            f'<text x="{label + value * scale + 6:.1f}" y="{y + 15}">{escape(usd(value))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(title: str, rows: dict[str, Tally]) -> str:
    chart = _bars([(k, t.cost, t.fallback_cost) for k, t in rows.items()], f"cost by {title}")
    table = _table(
        [title, "requests", "failed", "fallbacks", "input tokens", "output tokens", "cost"],
        [
            [
                k,
                str(t.requests),
                str(t.failed),
                share(t.fallback_share),
                f"{t.input_tokens:,}",
                f"{t.output_tokens:,}",
                usd(t.cost),
            ]
            for k, t in rows.items()
        ],
    )
    return f"<h2>Cost by {escape(title)}</h2>{chart}{table}"


def _strategies(report: CostReport) -> str:
    if not report.strategies:
        return ""
    projected = all(s.monthly is not None for s in report.strategies)
    bars = [
        (
            f"{s.name} ({percent(s.availability)})",
            (s.monthly or 0.0) if projected else s.cost,
            0.0,
        )
        for s in report.strategies
    ]
    title = "cost a month by strategy" if projected else "cost over the window by strategy"
    header = [
        "strategy",
        "providers",
        "cost",
        "a month",
        "availability",
        "served",
        "fallback model",
    ]
    return (
        "<h2>The same traffic under each strategy</h2>"
        '<p class="note">Requests that did not need a fallback go to the primary; those '
        "that did go to the strategy's fallback, or are lost without one. Availability is "
        "the resilience report's estimate over the strategy's failure domains.</p>"
        + f"<h3>{escape(title)}, with its availability</h3>"
        + _bars(bars, title, label=300)
        + _table(header, [strategy_row(s) for s in report.strategies])
    )


def render_cost_html(report: CostReport) -> str:
    total = report.total
    figures = [
        ("cost", usd(total.cost)),
        ("a month, projected", usd(report.monthly)),
        ("requests answered", f"{total.requests:,}"),
        ("served by fallbacks", share(total.fallback_share)),
        ("traffic window", duration(report.window_s)),
    ]
    summary = "".join(
        f'<div class="figure">{escape(label)}<b>{escape(value)}</b></div>'
        for label, value in figures
    )
    reasons = ", ".join(f"{k}: {v}" for k, v in report.fallback_reasons.items()) or "none"
    notes = "".join(f'<p class="note">{escape(note)}</p>' for note in report.notes)
    since = "-" if report.since is None else report.since.isoformat(timespec="seconds")
    until = "-" if report.until is None else report.until.isoformat(timespec="seconds")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>policy-engine cost report</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<h1>Cost report</h1>"
        f'<p class="note">{escape(since)} to {escape(until)}; prices from the audit records. '
        f'<span style="color:{_FALLBACK}">&#9632;</span> served by fallbacks '
        f"({escape(reasons)})</p>"
        f'<div class="summary">{summary}</div>'
        + _section("tenant", report.by_tenant)
        + _section("provider", report.by_provider)
        + _section("task class", report.by_task_class)
        + _strategies(report)
        + notes
        + "</body></html>\n"
    )

"""Inline SVG charts, laid out here and drawn by the templates: no script, no network."""

from __future__ import annotations

from dataclasses import dataclass

from policy_engine.console._queries import Timeline, iso

WIDTH = 720
HEIGHT = 180
LEFT = 44  # room for the count axis
BOTTOM = 22  # room for the time axis


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str  # a CSS class suffix: the outcome, or "fallback"
    title: str  # shown on hover


@dataclass(frozen=True, slots=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str  # SVG text-anchor


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    labels: tuple[Label, ...]
    legend: tuple[str, ...]
    baseline: float  # y of the time axis


def _labels(timeline: Timeline, peak: int, step: float) -> list[Label]:
    labels = [
        Label(LEFT - 6, 12, str(peak), "end"),
        Label(LEFT - 6, HEIGHT - BOTTOM, "0", "end"),
    ]
    every = max(1, timeline.buckets // 4)
    for i in range(0, timeline.buckets, every):
        text = iso(timeline.start + i * timeline.width)[5:16].replace("T", " ")
        labels.append(Label(LEFT + i * step, HEIGHT - 6, text, "start"))
    return labels


def stacked_bars(timeline: Timeline, series: dict[str, list[int]], unit: str) -> Chart:
    """One bar per time bucket, stacked by series."""
    area = HEIGHT - BOTTOM - 8
    totals = [sum(values[i] for values in series.values()) for i in range(timeline.buckets)]
    peak = max(totals, default=0) or 1
    step = (WIDTH - LEFT) / max(timeline.buckets, 1)
    bars: list[Bar] = []
    for i in range(timeline.buckets):
        top = float(HEIGHT - BOTTOM)
        when = iso(timeline.start + i * timeline.width)
        for name, values in series.items():
            if not values[i]:
                continue
            height = values[i] / peak * area
            top -= height
            bars.append(
                Bar(
                    x=round(LEFT + i * step + 1, 2),
                    y=round(top, 2),
                    width=round(max(step - 2, 1), 2),
                    height=round(height, 2),
                    series=name,
                    title=f"{when}: {values[i]} {name} {unit}",
                )
            )
    return Chart(
        WIDTH,
        HEIGHT,
        tuple(bars),
        tuple(_labels(timeline, peak, step)),
        tuple(series),
        HEIGHT - BOTTOM,
    )


def outcome_chart(timeline: Timeline) -> Chart:
    return stacked_bars(timeline, timeline.outcomes, "requests")


def fallback_chart(timeline: Timeline) -> Chart:
    return stacked_bars(timeline, {"fallback": timeline.fallbacks}, "answered after a fallback")

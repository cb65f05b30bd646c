"""The markdown report: one row per cell, ratios at c=16, and the issue's targets checked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.gateway._wrk import LoadResult

RATIO_CONCURRENCY = 16
# Each sidecar group and the rival groups serving the same API; a row is compared with
# theirs in the same mode.
RIVALS = {
    "sidecar": ("litellm", "portkey"),
    "sidecar-responses": ("litellm-responses", "portkey-responses"),
}


@dataclass(frozen=True)
class Cell:
    scenario: str
    group: str
    mode: str  # json, stream (a chat or Responses answer) or embeddings
    concurrency: int
    load: LoadResult
    cpu_s: float | None  # gateway tree CPU over the measured run; None for direct
    rss_mb: float | None

    @property
    def stream(self) -> bool:
        return self.mode == "stream"

    @property
    def cpu_ms_per_request(self) -> float | None:
        if self.cpu_s is None or not self.load.requests:
            return None
        return self.cpu_s * 1000 / self.load.requests


def _find(cells: Sequence[Cell], group: str, mode: str, concurrency: int) -> Cell | None:
    return next(
        (c for c in cells if c.group == group and c.mode == mode and c.concurrency == concurrency),
        None,
    )


def _ms(us: float) -> str:
    return f"{us / 1000:.2f}"


def _opt(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def cell_table(cells: Sequence[Cell]) -> str:
    rows = [
        "| scenario | mode | c | req/s | p50 ms | p99 ms | +p50 vs direct ms | CPU ms/req "
        "| peak RSS MB | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for cell in cells:
        direct = _find(cells, "direct", cell.mode, cell.concurrency)
        added = (
            _ms(cell.load.p50_us - direct.load.p50_us)
            if direct is not None and cell.group != "direct"
            else "-"
        )
        errors = f"{cell.load.http_errors} http / {cell.load.socket_errors} socket"
        rows.append(
            f"| {cell.scenario} | {cell.mode} | {cell.concurrency} | {cell.load.rps:,.0f} "
            f"| {_ms(cell.load.p50_us)} | {_ms(cell.load.p99_us)} | {added} "
            f"| {_opt(cell.cpu_ms_per_request, '.3f')} | {_opt(cell.rss_mb, '.0f')} | {errors} |"
        )
    return "\n".join(rows)


def ratio_table(cells: Sequence[Cell]) -> str:
    rows = [
        f"| scenario | mode | req/s at c={RATIO_CONCURRENCY} | x LiteLLM | x Portkey |",
        "|---|---|---:|---:|---:|",
    ]
    for cell in cells:
        if cell.concurrency != RATIO_CONCURRENCY or cell.group not in RIVALS:
            continue
        ratios = []
        for rival in RIVALS[cell.group]:
            other = _find(cells, rival, cell.mode, RATIO_CONCURRENCY)
            ratios.append(
                f"{cell.load.rps / other.load.rps:.1f}"
                if other is not None and other.load.rps
                else "-"
            )
        rows.append(
            f"| {cell.scenario} | {cell.mode} | {cell.load.rps:,.0f} | {ratios[0]} | {ratios[1]} |"
        )
    return "\n".join(rows)


def baseline_table(cells: Sequence[Cell]) -> str:
    """The full pipeline against `--baseline`'s, cell for cell: the guard a change is
    held to (json at c=16 within 10% of the baseline, unless a guarantee costs more)."""
    rows = [
        "| mode | c | baseline req/s | sidecar req/s | change | baseline CPU ms/req "
        "| sidecar CPU ms/req |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for cell in cells:
        if cell.group != "sidecar" or cell.scenario != "sidecar":
            continue
        base = _find(cells, "baseline", cell.mode, cell.concurrency)
        if base is None or not base.load.rps:
            continue
        change = (cell.load.rps / base.load.rps - 1) * 100
        rows.append(
            f"| {cell.mode} | {cell.concurrency} | {base.load.rps:,.0f} | {cell.load.rps:,.0f} "
            f"| {change:+.1f}% | {_opt(base.cpu_ms_per_request, '.3f')} "
            f"| {_opt(cell.cpu_ms_per_request, '.3f')} |"
        )
    return "\n".join(rows)


def _verdict(ok: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[ok]


def target_table(cells: Sequence[Cell], scenario: str = "sidecar") -> str:
    """The issue's four targets, for the full pipeline's chat completions, non-streamed
    and streamed (the embeddings rows are measured, not held to them)."""
    rows = ["| target | mode | measured | verdict |", "|---|---|---|---|"]
    for mode in ("json", "stream"):
        stream = mode == "stream"

        def mine(concurrency: int, mode: str = mode) -> Cell | None:
            return next(
                (
                    c
                    for c in cells
                    if c.scenario == scenario and c.mode == mode and c.concurrency == concurrency
                ),
                None,
            )

        c1, c16, c64 = mine(1), mine(RATIO_CONCURRENCY), mine(64)
        direct1 = _find(cells, "direct", mode, 1)
        if c1 is not None and direct1 is not None:
            added = (c1.load.p50_us - direct1.load.p50_us) / 1000
            verdict = _verdict(added <= 0.5)
            rows.append(f"| added p50 at c=1 ≤ 0.5 ms | {mode} | {added:.2f} ms | {verdict} |")
        litellm = _find(cells, "litellm", mode, RATIO_CONCURRENCY)
        portkey = _find(cells, "portkey", mode, RATIO_CONCURRENCY)
        if c16 is not None and litellm is not None and portkey is not None:
            x_l = c16.load.rps / litellm.load.rps if litellm.load.rps else float("inf")
            x_p = c16.load.rps / portkey.load.rps if portkey.load.rps else float("inf")
            rows.append(
                f"| c=16 req/s ≥ 2x Portkey and ≥ 30x LiteLLM | {mode} "
                f"| {x_p:.2f}x Portkey, {x_l:.1f}x LiteLLM | {_verdict(x_p >= 2 and x_l >= 30)} |"
            )
        if c64 is not None:
            ratio = c64.load.p99_us / c64.load.p50_us if c64.load.p50_us else float("inf")
            ok = ratio <= 3 and c64.load.errors == 0
            rows.append(
                f"| c=64 p99 ≤ 3x p50, no errors | {mode} | p99/p50 = {ratio:.1f}, "
                f"{c64.load.errors} errors | {_verdict(ok)} |"
            )
        peaks = [c.rss_mb for c in cells if c.scenario == scenario and c.rss_mb is not None]
        if peaks and not stream:
            rows.append(
                f"| peak RSS ≤ 150 MB per worker | both | {max(peaks):.0f} MB "
                f"| {_verdict(max(peaks) <= 150)} |"
            )
    return "\n".join(rows)

from dataclasses import replace

from bench.gateway._report import Cell, baseline_table, cell_table, ratio_table, target_table
from bench.gateway._wrk import LoadResult


def _cell(
    scenario: str,
    group: str,
    concurrency: int,
    rps: float,
    p50_us: float,
    p99_us: float | None = None,
    errors: int = 0,
    rss: float | None = 80,
) -> Cell:
    load = LoadResult(
        requests=int(rps * 10),
        duration_s=10,
        p50_us=p50_us,
        p99_us=p99_us if p99_us is not None else p50_us * 2,
        max_us=p50_us * 4,
        socket_errors=0,
        http_errors=errors,
    )
    cpu = None if group == "direct" else rps * 10 * 0.0005
    return Cell(scenario, group, "json", concurrency, load, cpu, None if group == "direct" else rss)


def _cells() -> list[Cell]:
    return [
        _cell("direct", "direct", 1, 20_000, 50),
        _cell("direct", "direct", 16, 80_000, 100),
        _cell("direct", "direct", 64, 80_000, 400),
        _cell("sidecar", "sidecar", 1, 2_000, 450),
        _cell("sidecar", "sidecar", 16, 4_000, 4_000),
        _cell("sidecar", "sidecar", 64, 4_000, 16_000, p99_us=60_000),
        _cell("litellm", "litellm", 16, 100, 160_000),
        _cell("portkey", "portkey", 16, 1_600, 10_000),
    ]


def test_added_latency_is_p50_over_direct_at_the_same_concurrency() -> None:
    row = next(
        r for r in cell_table(_cells()).splitlines() if r.startswith("| sidecar | json | 1 ")
    )
    assert "| 0.40 |" in row


def test_cpu_per_request_is_in_milliseconds() -> None:
    row = next(
        r for r in cell_table(_cells()).splitlines() if r.startswith("| sidecar | json | 1 ")
    )
    assert "| 0.500 |" in row


def test_ratios_divide_the_sidecar_by_each_rival_at_c16() -> None:
    rows = ratio_table(_cells()).splitlines()
    assert rows[2] == "| sidecar | json | 4,000 | 40.0 | 2.5 |"


def test_ratios_show_a_dash_when_a_rival_was_not_measured() -> None:
    cells = [c for c in _cells() if c.group != "portkey"]
    assert ratio_table(cells).splitlines()[2].endswith("| 40.0 | - |")


def test_targets_meet_latency_and_throughput_but_miss_the_tail() -> None:
    table = target_table(_cells())
    assert "| added p50 at c=1 ≤ 0.5 ms | json | 0.40 ms | met |" in table
    assert "2.50x Portkey, 40.0x LiteLLM | met |" in table
    assert "p99/p50 = 3.8, 0 errors | **missed** |" in table


def test_errors_at_c64_miss_the_tail_target() -> None:
    cells = _cells()
    cells[5] = _cell("sidecar", "sidecar", 64, 4_000, 16_000, p99_us=20_000, errors=2)
    assert "p99/p50 = 1.2, 2 errors | **missed** |" in target_table(cells)


def test_peak_rss_over_150_mb_misses() -> None:
    cells = _cells()
    cells[3] = _cell("sidecar", "sidecar", 1, 2_000, 450, rss=151)
    assert "| 151 MB | **missed** |" in target_table(cells)


def test_an_embeddings_row_is_compared_with_the_rivals_embeddings_row() -> None:
    cells = [
        *_cells(),
        replace(_cell("sidecar", "sidecar", 16, 3_000, 5_000), mode="embeddings"),
        replace(_cell("litellm", "litellm", 16, 150, 100_000), mode="embeddings"),
    ]
    rows = ratio_table(cells).splitlines()
    assert "| sidecar | embeddings | 3,000 | 20.0 | - |" in rows
    assert "embeddings" not in target_table(cells)


def test_a_responses_row_is_compared_with_the_rivals_responses_row_in_its_mode() -> None:
    cells = [
        *_cells(),
        _cell("sidecar-responses", "sidecar-responses", 16, 3_000, 5_000),
        _cell("litellm-responses", "litellm-responses", 16, 300, 50_000),
        replace(_cell("portkey-responses", "portkey-responses", 16, 10, 1_000), mode="stream"),
    ]
    rows = ratio_table(cells).splitlines()
    assert "| sidecar-responses | json | 3,000 | 10.0 | - |" in rows
    assert "responses" not in target_table(cells)


def test_the_baseline_table_gives_the_change_of_each_full_pipeline_cell() -> None:
    cells = [*_cells(), _cell("sidecar-baseline", "baseline", 16, 4_400, 3_600)]
    rows = baseline_table(cells).splitlines()
    assert "| json | 16 | 4,400 | 4,000 | -9.1% | 0.500 | 0.500 |" in rows
    assert len(rows) == 3  # the header, its rule, and the one cell with a baseline

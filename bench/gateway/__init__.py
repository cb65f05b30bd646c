"""End-to-end gateway benchmark; run it with `.venv/bin/python bench/gateway/run.py`."""

from bench.gateway._gateways import DEFAULT_SCENARIOS, SCENARIOS, Endpoint, Scenario
from bench.gateway._report import Cell, cell_table, ratio_table, target_table
from bench.gateway._wrk import LoadResult, lua_script, parse_output, run_wrk

__all__ = [
    "DEFAULT_SCENARIOS",
    "SCENARIOS",
    "Cell",
    "Endpoint",
    "LoadResult",
    "Scenario",
    "cell_table",
    "lua_script",
    "parse_output",
    "ratio_table",
    "run_wrk",
    "target_table",
]

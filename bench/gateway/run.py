"""Gateway benchmark: direct nginx, the sidecar (full, then stage by stage), LiteLLM, Portkey;
then the sidecar, LiteLLM and Portkey again on the Responses API.

    .venv/bin/python bench/gateway/run.py [--duration 10] [--scenarios a,b] [--concurrency 1,16,64]
        [--modes json,stream,embeddings]

Each mode is a row per scenario: a chat completion (json), a streamed one (stream), and
an embeddings request over the same text (embeddings, `POST /v1/embeddings`). The
Responses API rows are measured in json and stream only: it has no embeddings request.

Installs what it needs under bench/.work/ (nginx and wrk from apt), starts every process
itself on loopback, runs wrk against each scenario, and prints a markdown report; every
process it started is stopped on exit, error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make the repository importable the way `pytest` sees it.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.gateway._gateways import DEFAULT_SCENARIOS, SCENARIOS, Endpoint, Scenario, baseline
from bench.gateway._install import (
    LITELLM_VERSION,
    PORTKEY_VERSION,
    ensure_debian_tools,
    ensure_litellm,
    ensure_portkey,
)
from bench.gateway._payload import API_MODES, MODES, VARIED_WORD, body_for
from bench.gateway._procs import StartupError, Supervisor, cpu_seconds, peak_rss_mb, supervised
from bench.gateway._profile import fold, py_spy, record, render
from bench.gateway._report import Cell, baseline_table, cell_table, ratio_table, target_table
from bench.gateway._stages import audit_figures, decision_figures, redaction_figures
from bench.gateway._upstream import start_nginx
from bench.gateway._wrk import lua_script, run_wrk

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "bench" / ".work"
PROFILE_SCENARIO = "sidecar"
PROFILE_CONCURRENCY = 16


@dataclass
class Run:
    args: argparse.Namespace
    supervisor: Supervisor
    temp: Path
    cells: list[Cell]
    notes: list[str]
    profile: str | None = None


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5, help="seconds per measured cell")
    parser.add_argument("--warmup", type=float, default=1, help="seconds of unmeasured load first")
    parser.add_argument(
        "--scenarios",
        type=_csv,
        default=DEFAULT_SCENARIOS,
        help=f"comma list of: {', '.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--concurrency", type=lambda s: [int(c) for c in _csv(s)], default=[1, 16, 64]
    )
    parser.add_argument("--modes", type=_csv, default=list(MODES), help=", ".join(MODES))
    parser.add_argument("--no-stages", action="store_true", help="skip the stage figures")
    parser.add_argument(
        "--profile",
        action="store_true",
        help=f"py-spy the {PROFILE_SCENARIO} at c={PROFILE_CONCURRENCY} (json)",
    )
    parser.add_argument("--results", type=Path, help="also write the report to this file")
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="TREE",
        help="also measure another checkout's sidecar (make setup run there) as "
        "sidecar-baseline, right after sidecar, and compare the two",
    )
    args = parser.parse_args(argv)
    args.scenarios = list(args.scenarios)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; choose from {', '.join(SCENARIOS)}")
    if not set(args.modes) <= set(MODES):
        parser.error(f"--modes takes {', '.join(MODES)}")
    if args.baseline is not None:
        if not (args.baseline / ".venv" / "bin" / "python").exists():
            parser.error(f"--baseline {args.baseline}: no .venv there; run make setup in it")
        at = args.scenarios.index("sidecar") + 1 if "sidecar" in args.scenarios else 0
        args.scenarios.insert(at, "sidecar-baseline")
    return args


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# What a whole answer holds, per API and mode.
_ANSWERED = {
    ("chat", "json"): b'"choices"',
    ("chat", "stream"): b"[DONE]",
    ("chat", "embeddings"): b'"embedding"',
    ("responses", "json"): b'"output"',
    ("responses", "stream"): b"response.completed",
}


def modes_of(scenario: Scenario, modes: list[str]) -> list[str]:
    """The asked modes the scenario's API has; the others are logged as skipped, as a
    choice and not a failure (the Responses API has no embeddings request)."""
    kept = [mode for mode in modes if mode in API_MODES[scenario.api]]
    for mode in modes:
        if mode not in kept:
            _log(f"{scenario.name} ({mode}): skipped, the {scenario.api} API has no {mode} mode")
    return kept


def verify(endpoint: Endpoint, mode: str) -> str | None:
    """One request by hand before any load: a gateway that answers errors is not measured."""
    request = urllib.request.Request(
        endpoint.url(mode),
        data=body_for(mode, endpoint.api),
        headers=endpoint.headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}: {error.read()[:300]!r}"
    except OSError as error:
        return f"request failed: {error}"
    expected = _ANSWERED[endpoint.api, mode]
    return None if expected in body else f"unexpected answer: {body[:300]!r}"


def measure(run: Run, scenario: Scenario, endpoint: Endpoint, mode: str) -> None:
    script = run.temp / f"{scenario.name}-{mode}.lua"
    script.write_text(lua_script(body_for(mode, endpoint.api), endpoint.headers, VARIED_WORD))
    url = endpoint.url(mode)
    for concurrency in run.args.concurrency:
        if run.args.warmup > 0:
            run_wrk(url, script, connections=concurrency, duration_s=run.args.warmup)
        before = cpu_seconds(endpoint.pid) if endpoint.pid else None
        load = run_wrk(url, script, connections=concurrency, duration_s=run.args.duration)
        used = cpu_seconds(endpoint.pid) - before if endpoint.pid and before is not None else None
        rss = peak_rss_mb(endpoint.pid) if endpoint.pid else None
        cell = Cell(scenario.name, scenario.group, mode, concurrency, load, used, rss)
        run.cells.append(cell)
        _log(
            f"  {cell.mode:6} c={concurrency:<3} {load.rps:9,.0f} req/s  "
            f"p50 {load.p50_us / 1000:7.2f} ms  p99 {load.p99_us / 1000:7.2f} ms  "
            f"errors {load.errors}"
        )
    if run.args.profile and scenario.name == PROFILE_SCENARIO and mode == "json" and endpoint.pid:
        run.profile = profile(run, endpoint, script)


def profile(run: Run, endpoint: Endpoint, script: Path) -> str:
    out = run.temp / "profile.txt"
    duration = max(run.args.duration, 5)
    sampler = record(endpoint.pid or 0, duration, out)
    time.sleep(0.5)  # py-spy attaches asynchronously; a few missed samples are harmless
    run_wrk(endpoint.url("json"), script, connections=PROFILE_CONCURRENCY, duration_s=duration)
    _, errors = sampler.communicate(timeout=duration + 60)
    if sampler.returncode != 0 or not out.exists():
        return f"py-spy failed ({sampler.returncode}): {errors.decode(errors='replace')[-500:]}"
    kept = TOOLS / "profile-sidecar-c16.txt"
    kept.write_bytes(out.read_bytes())
    return render(fold(out.read_text())) + f"\n\nFolded stacks: `{kept.relative_to(ROOT)}`"


def run_scenario(run: Run, scenario: Scenario, upstream_json: str, upstream_stream: str) -> None:
    reason = scenario.unavailable(TOOLS)
    if reason:
        run.notes.append(f"{scenario.name}: skipped, {reason}")
        _log(f"{scenario.name}: skipped, {reason}")
        return
    for mode in modes_of(scenario, run.args.modes):
        _log(f"{scenario.name} ({mode})")
        work = run.temp / f"{scenario.name}-{mode}"
        upstream = upstream_stream if mode == "stream" else upstream_json
        try:
            endpoint = scenario.start(run.supervisor, upstream, work, TOOLS)
        except StartupError as error:
            run.notes.append(f"{scenario.name} ({mode}): did not start: {error}")
            _log(f"  did not start: {error}")
            continue
        try:
            problem = verify(endpoint, mode)
            if problem:
                run.notes.append(f"{scenario.name} ({mode}): not measured, {problem}")
                _log(f"  not measured: {problem}")
                continue
            measure(run, scenario, endpoint, mode)
        except RuntimeError as error:
            run.notes.append(f"{scenario.name} ({mode}): load failed: {error}")
            _log(f"  load failed: {error}")
        finally:
            if endpoint.child is not None:
                run.supervisor.stop(endpoint.child)


def environment(versions: bool = True) -> str:
    """What the figures depend on besides our code: the machine, its load and the versions."""
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    text = f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {load} (1/5/15 min)"
    if versions:
        text += (
            f", {os.cpu_count()} CPUs, Python {platform.python_version()}, LiteLLM "
            f"{LITELLM_VERSION}, Portkey gateway {PORTKEY_VERSION}, nginx and wrk from apt"
        )
    return text


def report(run: Run, command: str, stages: list[str], before: str, after: str) -> str:
    parts = [
        f"Command: `{command}`",
        "",
        f"- Started: {before}",
        f"- Finished: {after}",
        "",
        "## Cells",
        "",
        cell_table(run.cells),
        "",
        "## Ratios at c=16 (sidecar rows ÷ the rival on the same API in the same mode)",
        "",
        ratio_table(run.cells),
        "",
        "## Targets from the issue (full pipeline)",
        "",
        target_table(run.cells),
    ]
    if any(cell.group == "baseline" for cell in run.cells):
        parts += ["", "## Against the baseline (`--baseline`)", "", baseline_table(run.cells)]
    if run.notes:
        parts += ["", "## Notes", "", *[f"- {note}" for note in run.notes]]
    if stages:
        parts += ["", "## Stage figures", "", *stages]
    if run.profile:
        parts += ["", f"## Profile: {PROFILE_SCENARIO}, json, c={PROFILE_CONCURRENCY}", ""]
        parts.append(run.profile)
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(
        [".venv/bin/python", "bench/gateway/run.py", *(sys.argv[1:] if argv is None else argv)]
    )
    ensure_debian_tools()
    TOOLS.mkdir(parents=True, exist_ok=True)
    scenarios = dict(SCENARIOS)
    if args.baseline is not None:
        scenarios["sidecar-baseline"] = baseline(args.baseline)
    if any(scenarios[name].group.startswith("litellm") for name in args.scenarios):
        ensure_litellm(TOOLS)
    if any(scenarios[name].group.startswith("portkey") for name in args.scenarios):
        ensure_portkey(TOOLS)
    if args.profile and py_spy() is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    before = environment()
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as temp, supervised() as supervisor:
        run = Run(args, supervisor, Path(temp), [], [])
        upstream = start_nginx(supervisor, run.temp / "nginx")
        json_base, stream_base = upstream.base_url(stream=False), upstream.base_url(stream=True)
        for name in args.scenarios:
            # nginx outlives every scenario; each gateway is stopped before the next starts.
            scenario = scenarios[name]
            if scenario.group == "direct":
                run_direct(run, scenario, json_base, stream_base)
            else:
                run_scenario(run, scenario, json_base, stream_base)
        supervisor.stop(upstream.child)
    stages: list[str] = []
    if not args.no_stages:
        _log("stage figures")
        stages = [
            "### Decision latency (`bench/decision_bench.py --seconds-per-case 1`)",
            "",
            decision_figures(1.0),
            "",
            "### Audit (`bench/audit_bench.py --seconds 2`)",
            "",
            "```",
            audit_figures(2.0),
            "```",
            "",
            "### Redaction",
            "",
            redaction_figures(2.0),
        ]
    text = report(run, command, stages, before, environment(versions=False))
    print(text)
    if args.results:
        args.results.write_text(text)
    return 0


def run_direct(run: Run, scenario: Scenario, json_base: str, stream_base: str) -> None:
    for mode in modes_of(scenario, run.args.modes):
        _log(f"{scenario.name} ({mode})")
        base = stream_base if mode == "stream" else json_base
        endpoint = scenario.start(run.supervisor, base, run.temp, TOOLS)
        measure(run, scenario, endpoint, mode)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        _log("interrupted; every process the harness started has been stopped")
        sys.exit(130)

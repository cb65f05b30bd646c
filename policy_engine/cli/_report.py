"""`policy-engine report cost`: what the traffic in an audit log cost, and what the
mission's three strategies would have cost on it."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from policy_engine._config import Settings, load_config
from policy_engine._errors import PolicyEngineError
from policy_engine.audit import AuditError
from policy_engine.resilience import (
    CostReport,
    build_cost_report,
    read_served,
    render_cost_html,
    render_cost_table,
)

EXIT_OK = 0
EXIT_ERROR = 2  # the config or the log could not be read, or a flag names no provider


def register(sub: argparse._SubParsersAction[Any]) -> None:
    report = sub.add_parser("report", help="Reports from the audit log.")
    reports = report.add_subparsers(dest="report_command", required=True)
    cost = reports.add_parser(
        "cost",
        help="cost per tenant, provider and task class, the share served by fallbacks, "
        "and the three resilience strategies priced on the same traffic",
        description=(
            "Costs come from the outcome records (token usage and the price each answer was "
            "charged at). With --config, the single-provider, dual-provider and primary + "
            "self-hosted strategies are priced on the same traffic with that provider "
            "catalog, each with the resilience report's availability estimate."
        ),
    )
    cost.add_argument("--audit-dir", type=Path, help="default: the config's audit.dir")
    cost.add_argument("--config", type=Path, help="the provider catalog for the strategies")
    cost.add_argument(
        "--tenant",
        action="append",
        metavar="T",
        help="only this tenant's traffic (repeatable); its strategies too",
    )
    cost.add_argument("--since", type=_timestamp, help="ISO 8601; naive means UTC")
    cost.add_argument("--until", type=_timestamp, help="ISO 8601, exclusive")
    cost.add_argument("--primary", metavar="ID", help="default: the commonest first candidate")
    cost.add_argument(
        "--secondary",
        metavar="ID",
        help="the dual strategy's second provider; default: the one in another failure domain "
        "that served the most fallbacks, else the cheapest",
    )
    cost.add_argument(
        "--self-hosted",
        metavar="ID",
        help="default: the self-hosted provider that served the most fallbacks, else the cheapest",
    )
    cost.add_argument("--html", type=Path, metavar="FILE", help="also write a page with charts")
    cost.add_argument("--json", action="store_true", help="print the report as JSON")
    cost.set_defaults(func=run_cost)


def _timestamp(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _build(args: argparse.Namespace) -> CostReport:
    settings: Settings | None = load_config(args.config) if args.config else None
    directory = args.audit_dir or (settings.audit.dir if settings else None)
    if directory is None:
        raise ValueError("pass --audit-dir, or --config to read its audit.dir")
    if not Path(directory).is_dir():
        raise ValueError(f"{directory} is not a directory")
    served = read_served(Path(directory), args.since, args.until)
    if args.tenant:
        served = [s for s in served if s.tenant in args.tenant]
    return build_cost_report(
        served, args.since, args.until, settings, args.primary, args.secondary, args.self_hosted
    )


def run_cost(args: argparse.Namespace) -> int:
    try:
        report = _build(args)
        if args.html is not None:
            args.html.write_text(render_cost_html(report), encoding="utf-8")
    except PolicyEngineError as error:
        print(f"policy-engine: {error.message}", file=sys.stderr)
        return EXIT_ERROR
    except (AuditError, OSError, ValueError) as error:
        print(f"policy-engine: {error}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        sys.stdout.write(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(render_cost_table(report))
    return EXIT_OK

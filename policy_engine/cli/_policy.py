"""`policy-engine policy impact`: what a proposed policy would change on recorded traffic."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from policy_engine._config import load_config
from policy_engine._errors import PolicyEngineError
from policy_engine.audit import AuditError
from policy_engine.impact import FAIL_ON, FailOn, ImpactReport, policy_impact, render_impact

EXIT_OK = 0
EXIT_ERROR = 2  # the config, the log or the proposed policy could not be read
EXIT_IMPACT = 3  # a --fail-on condition is met


def register(sub: argparse._SubParsersAction[Any]) -> None:
    policy = sub.add_parser("policy", help="Tools for policy authors.")
    commands = policy.add_subparsers(dest="policy_command", required=True)
    impact = commands.add_parser(
        "impact",
        help="replay the audit log's decision inputs against a proposed policy",
        description=(
            "Replay every decision recorded in the audit log of --config against the policy "
            "in --proposed (and the providers of --catalog), and report per tenant, "
            "residency, privacy tags and model what would change: newly denied requests, "
            "providers added to or removed from the allowed set, changed obligations, "
            "single points of failure introduced."
        ),
    )
    impact.add_argument("--config", type=Path, required=True, help="the sidecar's config")
    impact.add_argument("--proposed", type=Path, required=True, metavar="DIR", help="policy dir")
    impact.add_argument(
        "--catalog",
        type=Path,
        metavar="FILE",
        help="a proposed sidecar config whose providers replace each record's catalog",
    )
    impact.add_argument("--since", type=_timestamp, help="ISO 8601; naive means UTC")
    impact.add_argument("--until", type=_timestamp, help="ISO 8601, exclusive")
    impact.add_argument("--tenant", action="append", default=[], metavar="T", help="repeatable")
    impact.add_argument("--json", action="store_true", help="print the report as JSON")
    impact.add_argument(
        "--fail-on",
        type=_conditions,
        action="extend",
        default=[],
        metavar="LIST",
        help=f"exit {EXIT_IMPACT} when any request changes this way; a comma list of "
        + ", ".join(FAIL_ON),
    )
    impact.set_defaults(func=run_impact)


def _timestamp(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _conditions(text: str) -> list[FailOn]:
    found: list[FailOn] = []
    for part in text.split(","):
        name = part.strip()
        if name not in FAIL_ON:
            raise argparse.ArgumentTypeError(f"{name!r} is not one of {', '.join(FAIL_ON)}")
        found.append(name)
    return found


async def _impact(args: argparse.Namespace) -> ImpactReport:
    settings = load_config(args.config)
    proposed = None if args.catalog is None else load_config(args.catalog)
    return await policy_impact(
        settings, args.proposed, proposed, args.since, args.until, args.tenant
    )


def run_impact(args: argparse.Namespace) -> int:
    try:
        report = asyncio.run(_impact(args))
    except PolicyEngineError as error:
        print(f"policy-engine: {error.message}", file=sys.stderr)
        return EXIT_ERROR
    except (AuditError, OSError) as error:
        print(f"policy-engine: cannot read the audit log: {error}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        sys.stdout.write(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(render_impact(report))
    met = report.failures(args.fail_on)
    for condition in met:
        print(f"fail-on {condition}", file=sys.stderr)
    return EXIT_IMPACT if met else EXIT_OK

"""`policy-engine resilience`: single points of failure and gaps, per tenant and constraint."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from policy_engine._config import load_config
from policy_engine._context import OPERATIONS, Operation
from policy_engine._errors import PolicyEngineError
from policy_engine.decision import decider_from_settings, engine_from_settings
from policy_engine.resilience import (
    REPORT_CONCURRENCY,
    ResilienceReport,
    build_report,
    read_policy_facts,
    render_table,
)

EXIT_OK = 0
EXIT_UNKNOWN_TENANT = 1  # as `decide` exits for a tenant the policy data does not have
EXIT_ERROR = 2  # the config or the policy could not be read or evaluated
EXIT_GAPS = 3  # --fail-on-spof and a combination has one failure domain or none


def register(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "resilience",
        help="report, per tenant, residency, tags and model, how many failure domains remain",
        description=(
            "Evaluate the policy for every tenant, residency (none and each one named by a "
            "tenant or provider), subset of privacy tags, model alias and operation (chat "
            "and responses for a chat alias, embeddings for an embedding alias), through "
            "the same decision and route planning as a request."
        ),
    )
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument(
        "--tenant",
        action="append",
        metavar="T",
        help="only this tenant (repeatable); default: every tenant in the policy data",
    )
    parser.add_argument(
        "--operation",
        action="append",
        choices=OPERATIONS,
        help="only this operation (repeatable); default: every one",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--fail-on-spof",
        action="store_true",
        help=f"exit {EXIT_GAPS} if any combination has a single point of failure or no provider",
    )
    parser.set_defaults(func=run)


class _UnknownTenants(Exception):
    def __init__(self, unknown: list[str], known: list[str]) -> None:
        named = ", ".join(repr(t) for t in unknown)
        super().__init__(
            f"unknown tenant {named}; the policy data has: {', '.join(known) or 'no tenants'}"
        )


async def _report(
    config: Path, tenants: list[str] | None, operations: Sequence[Operation]
) -> ResilienceReport:
    settings = load_config(config)
    engine = engine_from_settings(settings, REPORT_CONCURRENCY)
    try:
        # Built as the sidecar builds it, so the report takes the request path's decisions.
        decider = decider_from_settings(settings, engine)
        facts = await read_policy_facts(settings)
        # A misspelt tenant would otherwise read as a tenant with no provider at all.
        unknown = [t for t in dict.fromkeys(tenants or ()) if t not in facts.tenants]
        if unknown:
            raise _UnknownTenants(unknown, sorted(facts.tenants))
        return await build_report(decider, settings, facts, tenants, operations, REPORT_CONCURRENCY)
    finally:
        await engine.close()


def run(args: argparse.Namespace) -> int:
    try:
        report = asyncio.run(_report(args.config, args.tenant, args.operation or OPERATIONS))
    except PolicyEngineError as error:
        print(f"policy-engine: {error.message}", file=sys.stderr)
        return EXIT_ERROR
    except _UnknownTenants as error:
        print(f"policy-engine: {error}", file=sys.stderr)
        return EXIT_UNKNOWN_TENANT
    if args.json:
        sys.stdout.write(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(render_table(report))
    return EXIT_GAPS if args.fail_on_spof and report.has_gaps else EXIT_OK

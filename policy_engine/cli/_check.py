"""`policy-engine config check FILE`: what startup would find in a config, and every problem.

It goes through what `serve` does before it takes a request (the schema, the keys, the
egress proxies and CA bundles, the caller tokens, the signing key, the audit folder, the
policy and its tenants), without listening or writing anything, so CI can gate a config
change and a person can see what the sidecar will serve.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from policy_engine._config import Settings, load_config, resolve_api_keys, resolve_caller_tokens
from policy_engine._errors import PolicyEngineError
from policy_engine._explain import DecisionQuery
from policy_engine.audit import KeyFileError, load_private_key
from policy_engine.decision import (
    DecisionEngine,
    EmbeddedEngine,
    decider_from_settings,
    engine_from_settings,
)
from policy_engine.redaction import RedactionError, default_redactor
from policy_engine.resilience import read_policy_facts
from policy_engine.routing import EgressTable, egress_from_settings

EXIT_OK = 0
EXIT_PROBLEMS = 1
# Tenant fields that name providers; a name the config lacks is worth a warning.
_PROVIDER_LISTS = ("preference", "allow_providers", "deny_providers")


@dataclass
class CheckReport:
    config: str
    providers: list[dict[str, str]] = field(default_factory=list)
    aliases: dict[str, list[str]] = field(default_factory=dict)  # alias -> provider ids
    tenants: list[str] = field(default_factory=list)
    policy: dict[str, str] = field(default_factory=dict)
    audit: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    config = sub.add_parser("config", help="check a config file")
    commands = config.add_subparsers(dest="config_command", required=True)
    check = commands.add_parser(
        "check",
        help="validate a config as startup does and print what it holds",
        description=(
            "Validate the config as `serve` does before taking requests (schema, provider "
            "keys, caller tokens, signing key, audit folder, policy and tenants) and print "
            f"what it found. Exits {EXIT_PROBLEMS} listing every problem; warnings (a "
            "provider without its key, a tenant naming a provider the config lacks) do not "
            "fail it."
        ),
    )
    check.add_argument("file", type=Path, metavar="FILE")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(func=run)


def _providers(settings: Settings, report: CheckReport) -> None:
    keys = resolve_api_keys(settings)
    try:
        egress: EgressTable | None = egress_from_settings(settings)
    except PolicyEngineError as error:
        report.problems.append(error.message)
        egress = None
    for provider in settings.providers:
        if provider.api_key_env:
            source = f"env {provider.api_key_env}"
        elif provider.api_key_file:
            source = f"file {provider.api_key_file}"
        elif provider.cloud_signed:
            # Fetched at startup, in a worker thread; not here (it may take a metadata
            # server's or STS's round trips).
            source = _cloud_source(provider.adapter, provider.options)
        else:
            source = "none configured"
        missing = keys.missing.get(provider.id)
        state = "missing" if missing else ("present" if keys.keys[provider.id] else "-")
        report.providers.append(
            {
                "id": provider.id,
                "adapter": provider.adapter,
                "base_url": provider.base_url,
                "key": source,
                "key_state": state,
                "egress": egress.of(provider.id).describe() if egress else "unusable",
            }
        )
        if missing:
            report.warnings.append(
                f"provider {provider.id}: {missing}; the sidecar starts, but never calls it"
            )
        for alias in provider.models:
            report.aliases.setdefault(alias, []).append(provider.id)
    if len(keys.missing) == len(settings.providers):
        report.problems.append("no provider has its API key: the sidecar could serve nothing")


def _cloud_source(adapter: str, options: dict[str, str]) -> str:
    if adapter == "bedrock":
        profile = options.get("profile")
        return f"AWS credential chain (profile {profile})" if profile else "AWS credential chain"
    path = options.get("credentials_file")
    return f"Google service-account key {path}" if path else "Google application default"


def _credentials(settings: Settings, report: CheckReport) -> None:
    try:
        resolve_caller_tokens(settings)
    except PolicyEngineError as error:
        report.problems.append(error.message)
    key_file = settings.audit.signing_key_file
    report.audit = {"dir": str(settings.audit.dir), "signing_key_file": str(key_file)}
    try:
        load_private_key(key_file)
    except KeyFileError as error:
        hint = f"policy-engine keys generate --out {key_file.parent}"
        report.problems.append(f"{error} (a new key: {hint})")
    existing = settings.audit.dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        report.problems.append(f"audit.dir {settings.audit.dir}: {existing} is not writable")
    if settings.redaction.ner:
        try:
            default_redactor(ner=True, cache_entries=0)
        except RedactionError as error:
            report.problems.append(f"redaction.ner: {error}")


async def _policy(settings: Settings, report: CheckReport) -> None:
    policy = settings.policy
    try:
        engine = engine_from_settings(settings)
    except PolicyEngineError as error:
        report.problems.append(f"policy: {error.message}")
        return
    try:
        if isinstance(engine, EmbeddedEngine):
            report.policy = {"engine": "embedded", "policy_dir": str(policy.policy_dir)}
        else:
            report.policy = {"engine": "opa", "opa_url": str(policy.opa_url)}
            if not await engine.ready():
                report.problems.append(f"policy: OPA at {policy.opa_url} is not ready")
                return
        facts = await read_policy_facts(settings)
        report.tenants = sorted(facts.tenants)
        await _decide_each_tenant(settings, engine, report)
    except PolicyEngineError as error:
        report.problems.append(f"policy: {error.message}")
        return
    finally:
        await engine.close()
    configured = {p.id for p in settings.providers}
    for tenant, entry in sorted(facts.tenants.items()):
        for key in _PROVIDER_LISTS:
            named = entry.get(key) if isinstance(entry, dict) else None
            for provider in named if isinstance(named, list) else ():
                if isinstance(provider, str) and provider not in configured:
                    report.warnings.append(
                        f"tenant {tenant}: {key} names {provider}, which this config lacks"
                    )


async def _decide_each_tenant(
    settings: Settings, engine: DecisionEngine, report: CheckReport
) -> None:
    """One decision per tenant, through the request path's decider: the policy evaluates,
    and its answer carries the revision (with OPA, the bundle's)."""
    decider = decider_from_settings(settings, engine)
    revisions: set[str] = set()
    for tenant in report.tenants:
        try:
            context = DecisionQuery(tenant=tenant).context()
        except PolicyEngineError as error:
            report.warnings.append(f"tenant {tenant!r} cannot be sent: {error.message}")
            continue
        try:
            revisions.add((await decider.decide(context)).revision)
        except PolicyEngineError as error:
            report.problems.append(f"policy: a decision for tenant {tenant}: {error.message}")
    report.policy["revision"] = ", ".join(sorted(revisions)) or engine.revision


async def check(path: Path) -> CheckReport:
    report = CheckReport(config=str(path))
    try:
        settings = load_config(path)
    except PolicyEngineError as error:
        # The schema's errors come all at once, one a line; nothing else can be checked.
        first, *fields = error.message.splitlines()
        schema = first.endswith(" is invalid:") and fields
        report.problems.extend([f.strip() for f in fields] if schema else [error.message])
        return report
    _providers(settings, report)
    _credentials(settings, report)
    await _policy(settings, report)
    return report


def render(report: CheckReport) -> str:
    lines = [f"config: {report.config}"]
    if report.providers:
        lines.append(f"providers: {len(report.providers)}")
        widths = {
            k: max(len(p[k]) for p in report.providers) for k in ("id", "adapter", "base_url")
        }
        for p in report.providers:
            columns = "  ".join(f"{p[k]:<{w}}" for k, w in widths.items())
            lines.append(f"  {columns}  key: {p['key']} ({p['key_state']}), {p['egress']}")
    if report.aliases:
        served = ", ".join(f"{a} ({', '.join(ids)})" for a, ids in sorted(report.aliases.items()))
        lines.append(f"aliases: {served}")
    if report.policy:
        where = report.policy.get("policy_dir") or report.policy.get("opa_url", "")
        revision = report.policy.get("revision", "?")
        lines.append(f"policy: {report.policy['engine']} ({where}), revision {revision}")
    if report.tenants:
        lines.append(f"tenants: {len(report.tenants)} ({', '.join(report.tenants)})")
    if report.audit:
        lines.append(
            f"audit: {report.audit['dir']}, signing key {report.audit['signing_key_file']}"
        )
    for title, items in (("warnings", report.warnings), ("problems", report.problems)):
        if items:
            lines.append(f"{title}: {len(items)}")
            lines.extend(f"  - {item}" for item in items)
    lines.append("ok" if not report.problems else f"not ok: {len(report.problems)} problem(s)")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    report = asyncio.run(check(args.file))
    if args.json:
        sys.stdout.write(orjson.dumps(asdict(report), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(render(report))
    return EXIT_PROBLEMS if report.problems else EXIT_OK

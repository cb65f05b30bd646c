"""The console on a large log: indexing once, extending the index, and each view's cost.

    .venv/bin/python bench/console_bench.py [--requests 250000] [--dir PATH]

Writes a log through the real audit writer (an intent and an outcome record per request,
tenants, outcomes, fallbacks and denials mixed as a busy sidecar would write them, signed
checkpoints every 1,000 records), then measures: the first index pass, its size on disk,
a refresh after 1,000 more requests, each query a page makes (the decisions list with and
without filters, the timeline, the filter values, one request with its checks), a whole
page over HTTP, an inclusion proof and a whole-log verify for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from policy_engine._auth import Authenticator
from policy_engine._config import parse_config
from policy_engine._context import provider_catalog
from policy_engine.audit import (
    PRIVATE_KEY_NAME,
    PUBLIC_KEY_NAME,
    AuditLog,
    AuditSettings,
    load_public_key,
    prove_request,
    verify_log,
    write_key_pair,
)
from policy_engine.console import (
    Console,
    Filters,
    LogIndex,
    Sessions,
    create_console_app,
    decisions,
    facets,
    timeline,
)
from policy_engine.decision import catalog_revision
from policy_engine.impact import policy_impact

REPO = Path(__file__).resolve().parents[1]
TENANTS = ("acme-eu", "medibridge-us", "globex", "paystream", "lexvault", "sandbox")
PROVIDERS = ("mistral-eu", "azure-openai-eu", "gemini-eu", "vllm-onprem", "openai-us")
REVISIONS = ("sha256:" + "a1" * 32, "sha256:" + "b2" * 32)


RAW_CONFIG: dict[str, Any] = {
    "policy": {"policy_dir": str(REPO / "policies")},
    "providers": [
        {
            "id": p,
            "adapter": "openai",
            "base_url": "http://127.0.0.1:9/v1",
            "models": {"default": "m"},
            "attributes": {"residency": "eu" if p.endswith("-eu") or p == "vllm-onprem" else "us"},
        }
        for p in PROVIDERS
    ],
}
CATALOG = catalog_revision(
    provider_catalog(
        parse_config(
            {**RAW_CONFIG, "audit": {"dir": "/nonexistent", "signing_key_file": "/nonexistent"}}
        )
    )
)


def events(n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    tenant = TENANTS[n % len(TENANTS)]
    first, second = PROVIDERS[n % 5], PROVIDERS[(n + 1) % 5]
    fallback = n % 7 == 0
    denied = n % 23 == 0
    context = {
        "residency": "eu" if n % 2 else None,
        "privacy_tags": ["pii"] if n % 3 else ["pii", "phi"],
        "model": "default",
        "stream": n % 4 == 0,
        "input_chars": 800 + n % 400,
        "protocol": "openai",
    }
    policy = {
        "revision": REVISIONS[(n // 100_000) % 2],  # a policy change every 100k requests
        "tenant_known": True,
        "allowed": [] if denied else [first, second],
        "denied": {
            "openai-us": ["residency: tenant requires eu, provider processes data in us"],
            "anthropic-us": ["privacy: phi needs a provider with a signed HIPAA BAA"],
        },
        "obligations": {"redact": {first: ["EMAIL_ADDRESS", "PHONE_NUMBER", "SECRET"]}},
    }
    request_id = f"{n:032x}"
    intent = {
        "request_id": request_id,
        "protocol": "openai",
        "caller": "app",
        "tenant": tenant,
        "context": context,
        "policy": {"revision": policy["revision"], "allowed": policy["allowed"]},
        "candidates": [
            {"provider": p, "model": "m", "redact": ["SECRET"]} for p in (first, second)
        ],
        "redactions": {"EMAIL_ADDRESS": 1},
        "unredactable": [],
    }
    attempts = [{"provider": first, "outcome": "server_error", "status": 500, "latency_ms": 40.5}]
    attempts = (attempts if fallback else []) + [
        {
            "provider": second if fallback else first,
            "outcome": "ok",
            "status": 200,
            "latency_ms": 812.25,
        }
    ]
    outcome = {
        "request_id": request_id,
        "protocol": "openai",
        "caller": "app",
        "tenant": tenant,
        "context": context,
        "input": {"budget": {"exhausted": [], "remaining": {}}, "catalog": CATALOG},
        "policy": policy,
        "attempts": [] if denied else attempts,
        "provider": None if denied else attempts[-1]["provider"],
        "outcome": "denied" if denied else "answered",
        "status": 403 if denied else 200,
        "error_type": None,
        "redactions": {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1},
        "unredactable": [],
        "usage": {"input_tokens": 1234, "output_tokens": 456},
        "invalid": {},
    }
    return intent, outcome


async def write_requests(settings: AuditSettings, start: int, count: int) -> None:
    log = await AuditLog.open(settings)
    try:
        window = 2000
        for base in range(start, start + count, window):
            pending = []
            for n in range(base, min(base + window, start + count)):
                intent, outcome = events(n)
                pending.append(log.submit(intent, "intent"))
                pending.append(log.submit(outcome, "request"))
            await asyncio.gather(*pending)
    finally:
        await log.close()


def timed(fn: Callable[[], Any], repeat: int = 5) -> tuple[float, Any]:
    """Median wall time in ms of `repeat` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=250_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument(
        "--views-only",
        action="store_true",
        help="skip the log-wide steps (proof, verify, impact), which read the whole log",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        root = Path(folder)
        write_key_pair(root / "keys", Ed25519PrivateKey.generate())
        audit = AuditSettings(
            dir=root / "audit",
            signing_key_file=root / "keys" / PRIVATE_KEY_NAME,
            checkpoint_every_records=1000,
        )
        started = time.perf_counter()
        asyncio.run(write_requests(audit, 0, args.requests))
        wrote = time.perf_counter() - started
        size_mb = sum(p.stat().st_size for p in audit.dir.glob("segment-*")) / 1e6
        print(f"log: {args.requests * 2:,} records, {size_mb:,.0f} MB, written in {wrote:.0f} s")

        index = LogIndex(audit.dir, str(root / "index.sqlite"))
        started = time.perf_counter()
        indexed = index.refresh()
        first = time.perf_counter() - started
        index_mb = (root / "index.sqlite").stat().st_size / 1e6
        print(
            f"first index pass: {indexed:,} records in {first:.1f} s "
            f"({indexed / first:,.0f} records/s), index {index_mb:,.0f} MB"
        )

        asyncio.run(write_requests(audit, args.requests, 1000))
        started = time.perf_counter()
        more = index.refresh()
        print(
            f"refresh after 1,000 more requests: {more:,} records in "
            f"{(time.perf_counter() - started) * 1000:.0f} ms"
        )
        ms, _ = timed(index.refresh)
        print(f"refresh with nothing new: {ms:.2f} ms")

        raw = {
            "audit": {"dir": str(audit.dir), "signing_key_file": str(audit.signing_key_file)},
            "policy": {"policy_dir": str(REPO / "policies")},
            "providers": [
                {
                    "id": "p",
                    "adapter": "openai",
                    "base_url": "http://127.0.0.1:9/v1",
                    "models": {"default": "m"},
                }
            ],
        }
        settings = parse_config(raw)
        key = load_public_key(root / "keys" / PUBLIC_KEY_NAME)
        console = Console(settings, [key], index)
        rows: list[tuple[str, float]] = []
        for name, fn in [
            ("decisions, newest 50, no filter", lambda: decisions(index, Filters(), ())),
            ("decisions, tenant filter", lambda: decisions(index, Filters(tenant="globex"), ())),
            (
                "decisions, provider tried",
                lambda: decisions(index, Filters(provider="gemini-eu"), ()),
            ),
            (
                "decisions, denial rule + outcome",
                lambda: decisions(index, Filters(rule="privacy", outcome="denied"), ()),
            ),
            ("decisions, tenant-bound viewer", lambda: decisions(index, Filters(), ("acme-eu",))),
            ("timeline (charts), no filter", lambda: timeline(index, Filters(), ())),
            ("timeline, tenant filter", lambda: timeline(index, Filters(tenant="globex"), ())),
            ("filter values (facets)", lambda: facets(index, ())),
            (
                "one request with its checks",
                lambda: console.request(f"{args.requests // 2:032x}", ()),
            ),
        ]:
            ms, _ = timed(fn)
            rows.append((name, ms))
        client = TestClient(create_console_app(console, Sessions(Authenticator([]))))
        console.refresh_interval_s = 0.0
        ms, response = timed(lambda: client.get("/"), repeat=3)
        assert response.status_code == 200
        rows.append(("the decisions page over HTTP (list, charts, filters)", ms))
        if args.views_only:
            print("\n| view | median ms |\n|---|---:|")
            for name, ms in rows:
                print(f"| {name} | {ms:,.1f} |")
            return
        ms, _ = timed(lambda: prove_request(audit.dir, f"{args.requests // 2:032x}"), repeat=1)
        rows.append(("inclusion proof (prove_request, reads the log)", ms))
        ms, _ = timed(lambda: verify_log(audit.dir, [key]), repeat=1)
        rows.append(("whole-log verify (verify_log, for comparison)", ms))
        started = time.perf_counter()
        report = asyncio.run(policy_impact(settings, REPO / "policies"))
        rows.append(
            (
                f"policy impact, whole log ({report.evaluations} distinct inputs)",
                (time.perf_counter() - started) * 1000,
            )
        )
        print("\n| view | median ms |\n|---|---:|")
        for name, ms in rows:
            print(f"| {name} | {ms:,.1f} |")


if __name__ == "__main__":
    main()

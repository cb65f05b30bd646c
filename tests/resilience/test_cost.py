"""The cost report's arithmetic, against signed records written here with known usage and
prices, and the three strategies priced on them with a known catalog.

Records (prices in USD per million input / output tokens):
1. tenant a, analysis, primary, 1,000 in / 500 out at 2.5 / 10          = 0.0075
2. tenant a, summarize, primary, 2,000 / 1,000 at 2.5 / 10              = 0.015
3. tenant b, rate_limited on primary, second answered, 1,000 / 1,000 at 3 / 15 = 0.018
4. tenant b, every provider failed: no answer, no tokens
5. tenant c, autocomplete, server_error on primary, onprem answered, 4,000 / 2,000 at 0 / 0
The window is one day, so a month is 30 of them.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policy_engine._config import Settings, parse_config
from policy_engine.audit import AuditLog, AuditSettings, write_key_pair
from policy_engine.resilience import (
    CostReport,
    build_cost_report,
    read_served,
    render_cost_html,
    render_cost_table,
)
from policy_engine.resilience._cost_read import served
from policy_engine.resilience._cost_render import usd

SINCE = datetime.now(UTC) - timedelta(hours=1)
UNTIL = SINCE + timedelta(days=1)


def event(
    request_id: str,
    tenant: str,
    task_class: str | None,
    attempts: list[str],
    answered_by: str | None,
    usage: tuple[int, int] | None,
    price: tuple[float, float] | None,
    fallback: str | None = None,
) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "tenant": tenant,
        "context": {"model": "default", "task_classes": []},
        "policy": {"constraints": {"task_class": task_class}},
        "attempts": [{"provider": p} for p in attempts],
        "provider": answered_by,
        "outcome": "answered" if answered_by else "all_failed",
        "fallback": fallback,
        "usage": None if usage is None else {"input_tokens": usage[0], "output_tokens": usage[1]},
        "price": None if price is None else {"input_per_1m": price[0], "output_per_1m": price[1]},
    }


EVENTS = [
    event("r1", "a", "analysis", ["primary"], "primary", (1000, 500), (2.5, 10)),
    event("r2", "a", "summarize", ["primary"], "primary", (2000, 1000), (2.5, 10)),
    event("r3", "b", None, ["primary", "second"], "second", (1000, 1000), (3, 15), "rate_limited"),
    event("r4", "b", None, ["primary", "second"], None, None, None),
    event(
        "r5",
        "c",
        "autocomplete",
        ["primary", "onprem"],
        "onprem",
        (4000, 2000),
        (0, 0),
        "server_error",
    ),
]


def catalog(tmp_path: Path) -> Settings:
    def provider(pid: str, model: str, price: tuple[float, float], **facts: Any) -> dict[str, Any]:
        return {
            "id": pid,
            "adapter": "openai",
            "base_url": f"https://{pid}.example/v1",
            "models": {"default": model},
            "attributes": {
                "price_per_1m_input": price[0],
                "price_per_1m_output": price[1],
                **facts,
            },
        }

    return parse_config(
        {
            "providers": [
                provider(
                    "primary", "gpt-4o", (2.5, 10), sla=0.999, cloud="aws", region="us-east-1"
                ),
                provider("second", "claude", (3, 15), sla=0.995, cloud="gcp", region="eu-west4"),
                {
                    **provider(
                        "onprem",
                        "llama",
                        (0, 0),
                        sla=0.99,
                        cloud="onprem",
                        region="dc1",
                        self_hosted=True,
                        cost_per_month=3000,
                    ),
                    "model_attributes": {"llama": {"model": "llama-3-8b", "quality": 69}},
                },
            ],
            "audit": {"dir": str(tmp_path / "audit"), "signing_key_file": str(tmp_path / "k")},
        }
    )


async def write_log(directory: Path, key_dir: Path, events: list[dict[str, Any]]) -> None:
    log = await AuditLog.open(
        AuditSettings(dir=directory, signing_key_file=key_dir / "audit-signing-key.pem")
    )
    try:
        await log.submit({"request_id": "r0", "candidates": []}, "intent")
        await asyncio.gather(*(log.submit(e, "request") for e in events))
    finally:
        await log.close()


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    write_key_pair(tmp_path / "keys", Ed25519PrivateKey.generate())
    return tmp_path / "keys"


@pytest.fixture
def report(tmp_path: Path, key_dir: Path) -> CostReport:
    asyncio.run(write_log(tmp_path / "log", key_dir, EVENTS))
    records = read_served(tmp_path / "log", SINCE, UNTIL)
    return build_cost_report(records, SINCE, UNTIL, catalog(tmp_path))


def test_totals_add_up_the_priced_tokens_of_every_record(report: CostReport) -> None:
    total = report.total
    assert (total.requests, total.failed, total.fallbacks) == (4, 1, 2)
    assert (total.input_tokens, total.output_tokens) == (8000, 4500)
    assert total.cost == pytest.approx(0.0075 + 0.015 + 0.018 + 0)
    assert total.fallback_cost == pytest.approx(0.018)
    assert total.fallback_share == 0.5


def test_a_one_day_window_projects_thirty_times_its_cost_a_month(report: CostReport) -> None:
    assert report.window_s == 86400
    assert report.monthly == pytest.approx(0.0405 * 30)


def test_cost_is_split_by_tenant_provider_and_task_class(report: CostReport) -> None:
    assert {k: round(t.cost, 6) for k, t in report.by_tenant.items()} == {
        "a": 0.0225,
        "b": 0.018,
        "c": 0.0,
    }
    assert report.by_tenant["b"].failed == 1
    assert {k: round(t.cost, 6) for k, t in report.by_provider.items()} == {
        "onprem": 0.0,
        "primary": 0.0225,
        "second": 0.018,
    }
    assert {k: round(t.cost, 6) for k, t in report.by_task_class.items()} == {
        "(none)": 0.018,
        "analysis": 0.0075,
        "autocomplete": 0.0,
        "summarize": 0.015,
    }
    assert report.fallback_reasons == {"rate_limited": 1, "server_error": 1}


def test_single_provider_loses_what_fell_back(report: CostReport) -> None:
    single = report.strategies[0]
    assert (single.name, single.providers) == ("single provider", ("primary",))
    assert single.cost == pytest.approx(0.0075 + 0.015)
    assert single.monthly == pytest.approx(0.0225 * 30)
    assert (single.served, single.requests) == (2, 4)
    assert single.availability == pytest.approx(0.999)


def test_dual_provider_prices_the_fallbacks_at_the_second_providers_prices(
    report: CostReport,
) -> None:
    dual = report.strategies[1]
    assert dual.providers == ("primary", "second")
    fallbacks = (1000 * 3 + 1000 * 15 + 4000 * 3 + 2000 * 15) / 1e6
    assert dual.cost == pytest.approx(0.0225 + fallbacks)
    assert dual.served == 4
    assert dual.availability == pytest.approx(1 - 0.001 * 0.005)


def test_self_hosted_fallback_adds_its_fixed_cost_for_the_window(report: CostReport) -> None:
    hosted = report.strategies[2]
    assert hosted.providers == ("primary", "onprem")
    assert hosted.fixed_cost == pytest.approx(3000 / 30)
    assert hosted.cost == pytest.approx(0.0225 + 100)
    assert hosted.monthly == pytest.approx(0.0225 * 30 + 3000)
    assert hosted.availability == pytest.approx(1 - 0.001 * 0.01)
    assert (hosted.fallback_model, hosted.fallback_quality) == ("llama-3-8b", 69)


def test_the_window_leaves_out_records_outside_it(tmp_path: Path, key_dir: Path) -> None:
    asyncio.run(write_log(tmp_path / "log", key_dir, EVENTS))
    assert read_served(tmp_path / "log", UNTIL, UNTIL + timedelta(days=1)) == []
    assert len(read_served(tmp_path / "log", SINCE, None)) == len(EVENTS)


def test_without_a_catalog_there_are_no_strategies_and_a_note_says_why(
    tmp_path: Path, key_dir: Path
) -> None:
    asyncio.run(write_log(tmp_path / "log", key_dir, EVENTS))
    report = build_cost_report(read_served(tmp_path / "log"))
    assert report.strategies == ()
    assert report.notes == ("strategies need the provider catalog: pass --config",)
    assert report.total.cost == pytest.approx(0.0405)


def test_a_strategy_provider_not_in_the_catalog_is_refused(
    report: CostReport, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="--secondary 'nowhere' is not a provider"):
        build_cost_report([], settings=catalog(tmp_path), secondary="nowhere")


@pytest.mark.parametrize(
    "damage",
    [
        {"usage": {"input_tokens": -5, "output_tokens": "7"}},
        {"price": {"input_per_1m": "cheap", "output_per_1m": None}},
        {"attempts": "primary", "context": [], "policy": None, "tenant": 7},
        {"usage": None, "price": None, "fallback": 3},
    ],
)
def test_a_damaged_or_older_record_counts_what_it_can(damage: dict[str, Any]) -> None:
    item = served({**EVENTS[0], **damage}, SINCE)
    assert item.input_tokens >= 0 and item.output_tokens >= 0
    assert item.cost is None or item.cost >= 0


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "-"),
        (0, "$0.00"),
        (0.0000123, "$0.000012"),
        (0.0405, "$0.0405"),
        (1234.5, "$1,234.50"),
    ],
)
def test_dollars_keep_the_digits_a_request_costs(value: float | None, text: str) -> None:
    assert usd(value) == text


def test_the_table_shows_every_section(report: CostReport) -> None:
    table = render_cost_table(report)
    for text in ("tenant", "provider", "task class", "single provider", "dual provider"):
        assert text in table
    assert "primary + self-hosted fallback" in table
    assert "llama-3-8b (69)" in table


def test_the_html_page_is_self_contained_with_charts(report: CostReport) -> None:
    page = render_cost_html(report)
    assert page.startswith("<!doctype html>") and page.count("<svg") == 4
    for external in ("<script", "http://", "https://", "<link", "@import", "src="):
        assert external not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_names_in_the_html_page_are_escaped(tmp_path: Path) -> None:
    hostile = served({**EVENTS[0], "tenant": "<script>alert(1)</script>"}, SINCE)
    page = render_cost_html(build_cost_report([hostile]))
    assert "<script>" not in page
    assert "&lt;script&gt;" in page

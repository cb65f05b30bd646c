"""The report over a deployment with a deliberate single point of failure and a gap."""

from __future__ import annotations

import itertools

import pytest

from policy_engine._config import Settings
from policy_engine._context import provider_catalog
from policy_engine._errors import PolicyUnavailable
from policy_engine.decision import Decider, EmbeddedEngine
from policy_engine.resilience import (
    ResilienceReport,
    ResilienceRow,
    build_report,
    read_policy_facts,
)
from policy_engine.routing import plan_route
from tests.resilience.conftest import decider_for

SHIPPED_TAGS = ("confidential", "pci", "phi", "pii")


def row(
    report: ResilienceReport,
    tenant: str,
    residency: str | None = None,
    tags: tuple[str, ...] = (),
    alias: str = "default",
    operation: str = "chat",
) -> ResilienceRow:
    wanted = (tenant, residency, tags, alias, operation)
    for found in report.rows:
        c = found.combination
        if (c.tenant, c.residency, c.privacy_tags, c.alias, c.operation) == wanted:
            return found
    raise AssertionError(f"no row for {tenant} {residency} {tags} {alias}")


def test_every_tenant_residency_tag_subset_alias_and_operation_is_a_row(
    report: ResilienceReport,
) -> None:
    assert report.tenants == ("martian", "pinned", "spread")
    assert report.residencies == (None, "eu", "mars")
    assert report.privacy_tags == SHIPPED_TAGS
    assert report.aliases == ("default",)
    # A chat alias is reported for both chat operations.
    assert {r.combination.operation for r in report.rows} == {"chat", "responses"}
    assert len(report.rows) == 3 * 3 * 2 ** len(SHIPPED_TAGS) * 2


def test_a_tenant_spread_over_two_clouds_has_no_single_point_of_failure(
    report: ResilienceReport,
) -> None:
    spread = row(report, "spread")
    assert spread.status == "ok"
    assert [d.name for d in spread.domains] == ["aws/eu-west-1", "gcp/europe-west4"]
    assert spread.clouds == ("aws", "gcp")


def test_providers_sharing_a_region_count_as_one_domain_in_the_estimate(
    report: ResilienceReport,
) -> None:
    spread = row(report, "spread")
    assert spread.route == ("aws-eu", "aws-eu-2", "gcp-eu")
    assert spread.availability == pytest.approx(0.9999)


def test_a_tenant_pinned_to_one_provider_has_that_domain_as_single_point_of_failure(
    report: ResilienceReport,
) -> None:
    pinned = row(report, "pinned", residency="eu", tags=("pii",))
    assert pinned.status == "spof"
    assert pinned.single_point_of_failure == "aws/eu-west-1"
    assert pinned.availability == pytest.approx(0.99)


def test_a_residency_no_provider_offers_is_a_combination_with_no_provider(
    report: ResilienceReport,
) -> None:
    martian = row(report, "martian")
    assert martian.status == "none"
    assert martian.route == ()
    assert "residency: tenant requires mars, provider processes data in eu" in martian.reasons


def test_a_tag_no_provider_meets_leaves_no_provider(report: ResilienceReport) -> None:
    assert row(report, "spread", tags=("phi",)).status == "none"


def test_the_report_has_gaps_when_any_row_is_not_ok(report: ResilienceReport) -> None:
    assert report.has_gaps
    assert report.count("ok") + report.count("spof") + report.count("none") == len(report.rows)


async def test_every_row_is_what_the_decider_and_route_planner_say(
    report: ResilienceReport, settings: Settings
) -> None:
    decider = decider_for(settings)
    for found in report.rows:
        context = found.combination.query().context()
        decision = await decider.decide(context)
        route = plan_route(decision, context.model, settings.providers, {}, "priority")
        assert found.allowed == decision.allowed, found.combination
        assert found.route == tuple(c.id for c in route), found.combination


async def test_rows_decided_on_several_threads_at_once_are_the_rows_decided_one_by_one(
    report: ResilienceReport, settings: Settings
) -> None:
    """The CLI and the console decide a row per core at once, each thread with its own
    interpreter over the one compiled policy; the report is the same row for row."""
    engine = EmbeddedEngine(settings.policy.policy_dir, settings.policy.entrypoint, workers=3)
    decider = Decider(engine, provider_catalog(settings), settings.policy.timeout_ms)
    try:
        facts = await read_policy_facts(settings)
        at_once = await build_report(decider, settings, facts, concurrency=3)
    finally:
        await engine.close()
    assert at_once == report


async def test_a_row_the_policy_cannot_decide_fails_the_report_with_the_policys_own_error(
    settings: Settings,
) -> None:
    """Raised as itself, not wrapped in an ExceptionGroup: the CLI (exit 2) and the
    console (its PolicyEngineError answer) catch PolicyEngineError."""
    engine = EmbeddedEngine(settings.policy.policy_dir, settings.policy.entrypoint, workers=3)
    decider = Decider(engine, provider_catalog(settings), timeout_ms=0.001)
    try:
        facts = await read_policy_facts(settings)
        with pytest.raises(PolicyUnavailable, match="did not answer in time"):
            await build_report(decider, settings, facts, concurrency=3)
    finally:
        await engine.close()


def test_the_json_names_the_status_domains_and_single_point_of_failure(
    report: ResilienceReport,
) -> None:
    document = report.to_json()
    assert document["summary"] == {
        "combinations": len(report.rows),
        "ok": report.count("ok"),
        "spof": report.count("spof"),
        "none": report.count("none"),
    }
    pinned = next(
        r for r in document["rows"] if r["tenant"] == "pinned" and r["privacy_tags"] == []
    )
    assert pinned["status"] == "spof"
    assert pinned["single_point_of_failure"] == "aws/eu-west-1"
    assert pinned["failure_domains"][0]["providers"] == ["aws-eu"]


def test_every_row_carries_the_policy_revision(report: ResilienceReport) -> None:
    assert len(report.revisions) == 1
    assert report.revisions[0].startswith("sha256:")
    assert all(r.revision == report.revisions[0] for r in report.rows)


def test_tag_sets_are_every_subset_once(report: ResilienceReport) -> None:
    expected = {
        tags
        for size in range(len(SHIPPED_TAGS) + 1)
        for tags in itertools.combinations(SHIPPED_TAGS, size)
    }
    seen = [
        r.combination.privacy_tags
        for r in report.rows
        if r.combination.tenant == "spread" and r.combination.operation == "chat"
    ]
    assert set(seen) == expected
    assert len(seen) == len(expected) * len(report.residencies)

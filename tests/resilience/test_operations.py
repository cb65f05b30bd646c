"""The report per operation: an embedding alias is planned as an embeddings request
(its one model's providers only), and the policy's operation rules show as gaps."""

from __future__ import annotations

import asyncio
from pathlib import Path

from policy_engine._config import Settings, load_config
from policy_engine.resilience import ResilienceReport, build_report, read_policy_facts
from policy_engine.routing import embedding_routes, plan_embeddings
from tests.resilience._support import PROVIDERS, write_deployment
from tests.resilience.conftest import decider_for

TENANTS = {
    "spread": {"residency": "eu", "privacy_tags": []},
    "chat-only": {"residency": "eu", "privacy_tags": [], "operations": ["chat", "responses"]},
}


def deployment(root: Path) -> Path:
    providers = [dict(p, models=dict(p["models"])) for p in PROVIDERS]
    providers[0]["models"]["embed"] = "e-small"  # aws-eu
    providers[2]["models"]["embed"] = "e-small"  # gcp-eu
    providers[1]["models"]["embed-big"] = "e-big"  # aws-eu-2, another model
    return write_deployment(
        root, providers=providers, tenants=TENANTS, embeddings={"embed": {}, "embed-big": {}}
    )


def report_for(root: Path) -> tuple[ResilienceReport, Settings]:
    settings = load_config(deployment(root))

    async def build() -> ResilienceReport:
        return await build_report(
            decider_for(settings), settings, await read_policy_facts(settings)
        )

    return asyncio.run(build()), settings


def test_embedding_aliases_are_reported_as_embeddings_and_chat_ones_as_chat(
    tmp_path: Path,
) -> None:
    report, _ = report_for(tmp_path)
    operations = {(r.combination.alias, r.combination.operation) for r in report.rows}
    assert operations == {
        ("default", "chat"),
        ("default", "responses"),
        ("embed", "embeddings"),
        ("embed-big", "embeddings"),
    }


def test_an_embedding_alias_on_two_clouds_has_no_single_point_of_failure(tmp_path: Path) -> None:
    report, _ = report_for(tmp_path)
    row = next(
        r
        for r in report.rows
        if (r.combination.tenant, r.combination.alias, r.combination.privacy_tags)
        == ("spread", "embed", ())
        and r.combination.residency is None
    )
    assert row.route == ("aws-eu", "gcp-eu")
    assert row.status == "ok"


def test_an_embedding_model_on_one_provider_is_a_single_point_of_failure(tmp_path: Path) -> None:
    report, _ = report_for(tmp_path)
    rows = [r for r in report.rows if r.combination.alias == "embed-big"]
    assert {r.route for r in rows if r.route} == {("aws-eu-2",)}
    assert {r.status for r in rows if r.route} == {"spof"}


def test_a_tenant_that_does_not_allow_embeddings_has_no_provider_for_them(tmp_path: Path) -> None:
    report, _ = report_for(tmp_path)
    rows = [
        r
        for r in report.rows
        if r.combination.tenant == "chat-only" and r.combination.operation == "embeddings"
    ]
    assert {r.status for r in rows} == {"none"}
    assert any("tenant: chat-only does not allow embeddings" in r.reasons for r in rows)


def test_every_embeddings_row_is_what_the_embeddings_planner_says(tmp_path: Path) -> None:
    report, settings = report_for(tmp_path)
    routes = embedding_routes(settings)
    decider = decider_for(settings)

    async def check() -> None:
        for found in report.rows:
            if found.combination.operation != "embeddings":
                continue
            context = found.combination.query().context()
            decision = await decider.decide(context)
            route = routes[context.model]
            planned = plan_embeddings(decision, route, settings.providers, {}, "priority", 1)
            assert found.route == tuple(c.id for c in planned), found.combination

    asyncio.run(check())

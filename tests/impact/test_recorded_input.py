"""The outcome record holds the decision's whole input, so it can be replayed: the
context is `input.request`, the budget view and the catalog's revision are `input`, and
the catalog itself is kept beside the log under that revision."""

from __future__ import annotations

from pathlib import Path

from policy_engine._context import RoutingContext, policy_input, provider_catalog
from policy_engine.audit import iter_records
from policy_engine.decision import catalog_revision, keep_catalog, read_catalog
from policy_engine.fleet import BudgetView
from tests.impact._demo_log import DemoLog


def test_the_context_in_a_record_is_exactly_the_request_the_policy_sees() -> None:
    context = RoutingContext(
        "acme-eu",
        "eu",
        ("phi", "pii"),
        "smart",
        True,
        42,
        "anthropic",
        task_classes=("analysis",),
        input_tokens=64,
        has_tools=True,
        has_images=True,
        budget=BudgetView(("x",), ()),
    )
    assert context.summary() == policy_input(context, {})["request"]


def test_every_decided_outcome_record_names_its_budget_and_catalog(
    shared_demo_log: DemoLog,
) -> None:
    settings = shared_demo_log.settings
    revision = catalog_revision(provider_catalog(settings))
    outcomes = [r.event for _, r in iter_records(settings.audit.dir) if r.kind == "request"]
    decided = [e for e in outcomes if e["context"] is not None]
    assert decided
    for event in decided:
        assert event["input"] == {
            "budget": {"exhausted": [], "remaining": {}},
            "catalog": revision,
        }
    assert read_catalog(settings.audit.dir, revision) == provider_catalog(settings)


def test_a_record_refused_before_its_context_has_no_input(shared_demo_log: DemoLog) -> None:
    outcomes = [
        r.event for _, r in iter_records(shared_demo_log.settings.audit.dir) if r.kind == "request"
    ]
    assert any(e["context"] is None and e["input"] is None for e in outcomes)


def test_a_kept_catalog_that_was_edited_is_not_read_back(tmp_path: Path) -> None:
    catalog = {"p": {"adapter": "openai", "models": ["default"], "attributes": {"sla": 0.99}}}
    revision = keep_catalog(tmp_path, catalog)
    assert read_catalog(tmp_path, revision) == catalog
    path = next((tmp_path / "catalogs").iterdir())
    path.write_bytes(path.read_bytes().replace(b"0.99", b"0.999"))
    assert read_catalog(tmp_path, revision) is None


def test_keeping_the_same_catalog_twice_writes_one_file(tmp_path: Path) -> None:
    catalog = {"p": {"adapter": "openai", "models": ["default"], "attributes": {}}}
    assert keep_catalog(tmp_path, catalog) == keep_catalog(tmp_path, dict(catalog))
    assert len(list((tmp_path / "catalogs").iterdir())) == 1


def test_a_revision_that_is_not_a_hash_reads_nothing(tmp_path: Path) -> None:
    assert read_catalog(tmp_path, "sha256:../../etc/passwd") is None
    assert read_catalog(tmp_path, "md5:abc") is None

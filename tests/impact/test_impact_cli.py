"""`policy-engine policy impact`: exit codes for CI, proposals of catalogs, broken proposals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from policy_engine.cli import main
from policy_engine.decision import CATALOG_DIR
from tests.impact._demo_log import DemoLog, copy_policies, drop_provider_policy


def impact(log: DemoLog, proposed: Path, *extra: str) -> int:
    return main(
        ["policy", "impact", "--config", str(log.config), "--proposed", str(proposed), *extra]
    )


def test_the_policy_the_log_was_written_under_changes_nothing_and_exits_0(
    shared_demo_log: DemoLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    same = copy_policies(shared_demo_log.settings, tmp_path / "same")
    assert impact(shared_demo_log, same, "--fail-on", "any") == 0
    assert "no recorded request would be decided differently" in capsys.readouterr().out


def test_fail_on_exits_3_naming_each_condition_met(
    shared_demo_log: DemoLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proposed = drop_provider_policy(shared_demo_log.settings, tmp_path / "p")
    code = impact(shared_demo_log, proposed, "--fail-on", "newly-denied,added", "--fail-on", "spof")
    err = capsys.readouterr().err
    assert code == 3
    assert "fail-on newly-denied: 1 requests" in err and "fail-on spof:" in err
    assert "added" not in err  # nothing was added to any allowed set


def test_fail_on_a_condition_not_met_exits_0(shared_demo_log: DemoLog, tmp_path: Path) -> None:
    proposed = drop_provider_policy(shared_demo_log.settings, tmp_path / "p")
    assert impact(shared_demo_log, proposed, "--fail-on", "added,obligations") == 0


def test_an_unknown_fail_on_condition_is_a_usage_error(
    shared_demo_log: DemoLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        impact(shared_demo_log, tmp_path, "--fail-on", "newly-denied,everything")
    assert exit_.value.code == 2
    assert "'everything' is not one of" in capsys.readouterr().err


def test_a_proposed_catalog_without_a_provider_removes_it_where_it_was_allowed(
    shared_demo_log: DemoLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = yaml.safe_load(shared_demo_log.config.read_text())
    raw["providers"] = [p for p in raw["providers"] if p["id"] != "vllm-onprem"]
    proposed_config = tmp_path / "proposed.yaml"
    proposed_config.write_text(yaml.safe_dump(raw))
    same = copy_policies(shared_demo_log.settings, tmp_path / "same")
    impact(shared_demo_log, same, "--catalog", str(proposed_config), "--json")
    report = json.loads(capsys.readouterr().out)
    changed = [r for g in report["groups"] for r in g["requests_changed"]]
    assert changed and all(r["removed"] == ["vllm-onprem"] for r in changed)
    paystream = next(g for g in report["groups"] if g["tenant"] == "paystream")
    assert paystream["newly_denied"] == 1  # pci goes only to self-hosted providers
    assert report["proposed_catalog"].startswith("sha256:")


def test_a_proposed_obligation_is_reported_per_provider(
    shared_demo_log: DemoLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proposed = copy_policies(shared_demo_log.settings, tmp_path / "p")
    tenants = proposed / "tenants" / "data.json"
    data = json.loads(tenants.read_text())
    data["globex"]["redact_extra"] = ["PERSON"]
    tenants.write_text(json.dumps(data))
    assert impact(shared_demo_log, proposed, "--json", "--fail-on", "obligations") == 3
    report = json.loads(capsys.readouterr().out)
    groups = {(g["tenant"], g["residency"], *g["privacy_tags"]): g for g in report["groups"]}
    assert set(groups) == {("globex", None), ("globex", None, "phi"), ("globex", "us")}
    assert groups[("globex", None)]["obligations"] == {
        "openai-us: +PERSON": 2,
        "azure-openai-us: +PERSON": 2,
        "vllm-onprem: +PERSON": 2,
    }


def test_a_proposal_that_does_not_compile_exits_2(
    shared_demo_log: DemoLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proposed = copy_policies(shared_demo_log.settings, tmp_path / "p")
    (proposed / "router" / "broken.rego").write_text("package router\n\nbroken if {\n")
    assert impact(shared_demo_log, proposed) == 2
    assert "does not compile" in capsys.readouterr().err


def test_a_proposal_that_cannot_decide_would_fail_closed_and_counts_as_denied(
    shared_demo_log: DemoLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proposed = copy_policies(shared_demo_log.settings, tmp_path / "p")
    # Two values for one complete rule: an evaluation error for sandbox's requests only.
    (proposed / "router" / "conflict.rego").write_text(
        'package router\n\nconflict := 1 if input.tenant == "sandbox"\n\n'
        'conflict := 2 if input.tenant == "sandbox"\n\n'
        'denial contains ["x", "y"] if conflict\n'
    )
    impact(shared_demo_log, proposed, "--json")
    report = json.loads(capsys.readouterr().out)
    sandbox = [g for g in report["groups"] if g["tenant"] == "sandbox"]
    assert sandbox and all(g["newly_denied"] == g["requests"] for g in sandbox)
    assert all(r["failed"] for g in sandbox for r in g["requests_changed"])
    assert {g["tenant"] for g in report["groups"]} == {"sandbox"}


def test_a_catalog_missing_beside_the_log_is_replaced_by_the_current_one_and_counted(
    shared_demo_log: DemoLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audit = shared_demo_log.settings.audit.dir
    kept = tmp_path / "kept"
    shutil.move(audit / CATALOG_DIR, kept)
    try:
        same = copy_policies(shared_demo_log.settings, tmp_path / "same")
        impact(shared_demo_log, same, "--json")
    finally:
        shutil.move(kept, audit / CATALOG_DIR)
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["catalog_assumed"] == report["summary"]["replayed"] > 0
    assert report["summary"]["changed"] == 0


def test_since_and_until_bound_the_window(
    shared_demo_log: DemoLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proposed = drop_provider_policy(shared_demo_log.settings, tmp_path / "p")
    impact(shared_demo_log, proposed, "--json", "--until", "2000-01-01T00:00:00")
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["records"] == 0 and report["groups"] == []

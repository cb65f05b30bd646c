"""`policy-engine decide` explains a decision; `serve` refuses a bad config in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policy_engine.cli import main

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "demo" / "policy-engine.yaml"


def test_decide_prints_the_decision_with_reasons_and_the_route(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["decide", "--config", str(DEMO_CONFIG), "--tenant", "medibridge-us", "--tags", "phi"]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    decision = result["decision"]
    assert set(decision["allowed"]) == {"anthropic-us", "azure-openai-us", "bedrock-us"}
    assert any("hipaa_baa" in r for r in decision["denied"]["openai-us"])
    assert [step["provider"] for step in result["route"]] == [
        "azure-openai-us",
        "anthropic-us",
        "bedrock-us",
    ]
    assert result["input"]["request"]["privacy_tags"] == ["phi"]


def test_decide_names_the_candidates_skipped_for_a_feature_they_cannot_honour(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["decide", "--config", str(DEMO_CONFIG), "--tenant", "medibridge-us", "--tags", "phi"]
    code = main([*argv, "--features", "response_format=json_object,seed"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["skipped"] == {
        "anthropic-us": ["response_format=json_object", "seed"],
        "bedrock-us": ["response_format=json_object", "seed"],
    }
    assert [step["provider"] for step in result["route"]] == ["azure-openai-us"]


def test_decide_plans_an_embeddings_request_within_its_one_model(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["decide", "--config", str(DEMO_CONFIG), "--tenant", "sandbox", "--model", "embed"]
    assert main([*argv, "--operation", "embeddings"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["input"]["request"]["operation"] == "embeddings"
    # mistral-eu is allowed, but serves another embedding model: not on the route.
    assert "mistral-eu" in result["decision"]["allowed"]
    assert [(s["provider"], s["model"]) for s in result["route"]] == [
        ("azure-openai-eu", "embed-small-eu"),
        ("openai-us", "text-embedding-3-small"),
    ]


def test_decide_shows_the_phi_embeddings_rule(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["decide", "--config", str(DEMO_CONFIG), "--tenant", "medibridge-us", "--model", "embed"]
    assert main([*argv, "--operation", "embeddings"]) == 0
    result = json.loads(capsys.readouterr().out)
    reasons = result["decision"]["denied"]["openai-us"]
    assert "privacy: phi may be embedded only by a self-hosted provider" in " ".join(reasons)
    assert result["route"] == []


def test_decide_rejects_an_unknown_operation(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["decide", "--config", str(DEMO_CONFIG), "--tenant", "sandbox", "--operation", "x"]
    with pytest.raises(SystemExit):
        main(argv)
    assert "invalid choice" in capsys.readouterr().err


def test_decide_rejects_an_unknown_feature_with_a_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["decide", "--config", str(DEMO_CONFIG), "--tenant", "acme-eu", "--features", "telepathy"]
    )
    assert code == 2
    assert "features" in capsys.readouterr().err


def test_decide_exits_1_for_an_unknown_tenant(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decide", "--config", str(DEMO_CONFIG), "--tenant", "nobody"]) == 1
    assert json.loads(capsys.readouterr().out)["decision"]["tenant_known"] is False


def test_decide_rejects_a_malformed_tag_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["decide", "--config", str(DEMO_CONFIG), "--tenant", "acme-eu", "--tags", "<x>"])
    assert code == 2
    assert "X-Privacy-Tags" in capsys.readouterr().err


def test_serve_stops_with_the_bad_field_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("providers:\n  - id: x\n    adapter: carrier-pigeon\n")
    assert main(["serve", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "providers.0.adapter" in err and "carrier-pigeon" in err


def test_decide_explains_a_responses_request_as_the_policy_will_see_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["decide", "--config", str(DEMO_CONFIG), "--tenant", "acme-eu"]
    assert main([*argv, "--operation", "responses"]) == 0
    request = json.loads(capsys.readouterr().out)["input"]["request"]
    assert (request["operation"], request["protocol"]) == ("responses", "responses")

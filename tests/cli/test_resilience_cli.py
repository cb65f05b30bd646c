"""`policy-engine resilience`: the table, the JSON and the exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from policy_engine.cli import main
from tests.resilience._support import resilient_deployment, write_deployment


@pytest.fixture
def gappy(tmp_path: Path) -> Path:
    return write_deployment(tmp_path)


@pytest.fixture
def resilient(tmp_path: Path) -> Path:
    return resilient_deployment(tmp_path)


def test_exits_0_with_gaps_when_not_asked_to_fail(gappy: Path) -> None:
    assert main(["resilience", "--config", str(gappy)]) == 0


def test_fail_on_spof_exits_3_when_a_combination_has_a_gap(gappy: Path) -> None:
    assert main(["resilience", "--config", str(gappy), "--fail-on-spof"]) == 3


def test_fail_on_spof_exits_0_when_every_combination_has_two_domains(resilient: Path) -> None:
    assert main(["resilience", "--config", str(resilient), "--fail-on-spof"]) == 0


def test_an_unreadable_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["resilience", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read config" in capsys.readouterr().err


def test_json_lists_every_combination_with_its_status(
    gappy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["resilience", "--config", str(gappy), "--json"])
    document = json.loads(capsys.readouterr().out)
    assert document["summary"]["combinations"] == len(document["rows"]) == 3 * 3 * 16 * 2
    pinned = next(r for r in document["rows"] if r["tenant"] == "pinned")
    assert (pinned["status"], pinned["single_point_of_failure"]) == ("spof", "aws/eu-west-1")


def test_table_names_the_single_point_of_failure_and_the_gap(
    gappy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["resilience", "--config", str(gappy)])
    lines = capsys.readouterr().out.splitlines()
    pinned = next(line for line in lines if line.startswith("pinned "))
    martian = next(line for line in lines if line.startswith("martian "))
    assert "single point of failure aws/eu-west-1: aws-eu" in pinned
    assert "no provider: residency: tenant requires mars" in martian


def test_table_columns_line_up(gappy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["resilience", "--config", str(gappy)])
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("tenant "))
    column = lines[header].index("status")
    assert {line[column - 2 : column] for line in lines[header + 1 :]} == {"  "}
    assert {line[column] for line in lines[header + 1 :]} <= {"o", "S", "N"}


def test_tenant_limits_the_report_to_the_named_tenants(
    gappy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["resilience", "--config", str(gappy), "--json", "--tenant", "pinned"])
    document = json.loads(capsys.readouterr().out)
    assert document["tenants"] == ["pinned"]
    assert {row["tenant"] for row in document["rows"]} == {"pinned"}


def test_a_tenant_the_policy_does_not_know_is_an_error_naming_the_known_ones(
    gappy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["resilience", "--config", str(gappy), "--tenant", "nobody"]) == 1
    printed = capsys.readouterr()
    assert "unknown tenant 'nobody'" in printed.err
    assert "martian, pinned, spread" in printed.err
    assert printed.out == ""


def test_one_unknown_tenant_among_known_ones_is_still_an_error(
    gappy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["resilience", "--config", str(gappy), "--json", "--tenant", "pinned", "--tenant", "x"]
    assert main(argv) == 1
    assert "unknown tenant 'x'" in capsys.readouterr().err


def test_an_unknown_tenant_is_an_error_rather_than_a_gap_under_fail_on_spof(gappy: Path) -> None:
    argv = ["resilience", "--config", str(gappy), "--fail-on-spof", "--tenant", "Pinned"]
    assert main(argv) == 1


def test_table_counts_each_tenants_combinations(
    gappy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["resilience", "--config", str(gappy)])
    out = capsys.readouterr().out
    assert "  martian  combinations: 96  ok: 0  single point of failure: 0  no provider: 96" in out


def test_operation_limits_the_report_to_the_named_operations(
    gappy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["resilience", "--config", str(gappy), "--json", "--operation", "chat"])
    document = json.loads(capsys.readouterr().out)
    assert document["operations"] == ["chat"]
    assert {row["operation"] for row in document["rows"]} == {"chat"}
    assert len(document["rows"]) == 3 * 3 * 16


def test_a_policy_that_cannot_decide_in_time_exits_2_naming_why(
    gappy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = yaml.safe_load(gappy.read_text())
    raw["policy"]["timeout_ms"] = 0.001
    gappy.write_text(yaml.safe_dump(raw))
    assert main(["resilience", "--config", str(gappy)]) == 2
    assert capsys.readouterr().err.startswith("policy-engine: ")

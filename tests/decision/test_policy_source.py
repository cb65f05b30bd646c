"""The policy folder is read the way OPA reads a directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_engine._errors import PolicyUnavailable
from policy_engine.decision import PolicySource

MODULE = "package router\n\ndecision := {}\n"


def folder(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"router/decision.rego": MODULE, **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_a_data_json_lands_at_the_path_of_its_folder(tmp_path: Path) -> None:
    source = PolicySource.read(
        folder(tmp_path, {"tenants/data.json": '{"a": {}}', "limits/eu/data.json": "[1, 2]"})
    )
    assert source.data == {"tenants": {"a": {}}, "limits": {"eu": [1, 2]}}


def test_a_root_data_json_merges_into_the_base_document(tmp_path: Path) -> None:
    source = PolicySource.read(folder(tmp_path, {"data.json": '{"x": 1}', "y/data.json": "2"}))
    assert source.data == {"x": 1, "y": 2}


def test_test_modules_and_other_json_files_are_not_loaded(tmp_path: Path) -> None:
    source = PolicySource.read(
        folder(tmp_path, {"router/decision_test.rego": MODULE, "tenants/other.json": "{}"})
    )
    assert list(source.modules) == ["router/decision.rego"]
    assert source.data == {}


def test_two_files_claiming_the_same_path_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyUnavailable, match="conflicts"):
        PolicySource.read(folder(tmp_path, {"data.json": '{"t": 1}', "t/data.json": "{}"}))

"""deploy/Dockerfile, parsed: multi-stage, pinned, non-root, nothing remote or secret."""

from __future__ import annotations

import json
import re

import pytest
from dockerfile_parse import DockerfileParser

from tests.decision._support import ROOT

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
# python:<major.minor.patch>-<variant>-<debian release>; a floating tag would rebuild
# into a different image without anyone changing this file.
PINNED_PYTHON = re.compile(r"python:\d+\.\d+\.\d+-slim-[a-z]+")


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    parser = DockerfileParser(path=str(DOCKERFILE))
    return [
        (i["instruction"], i["value"]) for i in parser.structure if i["instruction"] != "COMMENT"
    ]


def values(instructions: list[tuple[str, str]], name: str) -> list[str]:
    return [value for instruction, value in instructions if instruction == name]


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last = max(i for i, (instruction, _) in enumerate(instructions) if instruction == "FROM")
    return instructions[last:]


def test_is_multi_stage_with_a_build_and_a_runtime_stage(
    instructions: list[tuple[str, str]],
) -> None:
    stages = [value.split()[-1] for value in values(instructions, "FROM")]
    assert stages == ["build", "runtime"]


def test_every_base_image_is_an_exact_python_release(instructions: list[tuple[str, str]]) -> None:
    for value in values(instructions, "FROM"):
        assert PINNED_PYTHON.fullmatch(value.split()[0]), value


def test_runtime_runs_as_a_numeric_non_root_user(instructions: list[tuple[str, str]]) -> None:
    users = values(final_stage(instructions), "USER")
    assert users, "the runtime stage must set USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) > 0
    assert gid.isdigit() and int(gid) > 0


def test_entrypoint_is_policy_engine_serving_the_mounted_config(
    instructions: list[tuple[str, str]],
) -> None:
    assert json.loads(values(instructions, "ENTRYPOINT")[-1]) == ["policy-engine"]
    assert json.loads(values(instructions, "CMD")[-1]) == [
        "serve",
        "--config",
        "/etc/policy-engine/config.yaml",
    ]


def test_has_a_healthcheck_on_healthz(instructions: list[tuple[str, str]]) -> None:
    assert "/healthz" in values(instructions, "HEALTHCHECK")[-1]


def test_nothing_is_added_from_a_url(instructions: list[tuple[str, str]]) -> None:
    assert values(instructions, "ADD") == []


def test_copies_only_what_the_image_needs_and_it_exists(
    instructions: list[tuple[str, str]],
) -> None:
    sources = {
        source
        for value in values(instructions, "COPY")
        if not value.startswith("--from=")
        for source in value.split()[:-1]
    }
    assert sources == {
        "pyproject.toml",
        "README.md",
        "adapters",
        "policy_engine",
        "policies/router",
        "policies/tenants",
    }
    assert all((ROOT / source).exists() for source in sources)


def test_runtime_takes_only_the_virtualenv_from_the_build_stage(
    instructions: list[tuple[str, str]],
) -> None:
    copies = values(final_stage(instructions), "COPY")
    assert [c for c in copies if c.startswith("--from=")] == [
        "--from=build /opt/policy-engine /opt/policy-engine"
    ]


def test_bakes_in_no_secret_or_key(instructions: list[tuple[str, str]]) -> None:
    for instruction in ("ENV", "ARG", "LABEL"):
        for value in values(instructions, instruction):
            assert not re.search(r"(?i)key|secret|token|password", value), value

"""`policy-engine audit show`: one line per request (an interrupted one by its intent),
filters validated with a message that says what works, and quiet when piped to head."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policy_engine.audit import AuditSettings, write_key_pair
from policy_engine.cli import main
from tests.audit._writing import append, intent, open_writer, outcome


@pytest.fixture
def settings(tmp_path: Path) -> AuditSettings:
    private, _ = write_key_pair(tmp_path / "keys", Ed25519PrivateKey.generate())
    return AuditSettings(dir=tmp_path / "log", signing_key_file=private)


def write(settings: AuditSettings, *records: tuple[str, dict[str, Any]]) -> Path:
    with open_writer(settings) as writer:
        append(writer, records)
    return settings.dir


def show(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(["audit", "show", *argv])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_an_intent_without_its_outcome_is_shown_as_interrupted(
    settings: AuditSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write(settings, intent("done"), intent("cut"), outcome("done", 0))
    code, lines, _ = show(capsys, str(log))
    assert code == 0
    assert [line.split()[2:] for line in lines] == [
        ["acme-eu", "interrupted", "-", "cut"],
        ["acme-eu", "answered", "mistral-eu", "done"],
    ]


def test_the_outcome_filter_finds_interrupted_requests(
    settings: AuditSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write(settings, intent("done"), intent("cut"), outcome("done", 0))
    _, lines, _ = show(capsys, str(log), "--outcome", "interrupted", "--json")
    assert [json.loads(line)["event"]["request_id"] for line in lines] == ["cut"]


def test_a_missing_tenant_is_shown_as_a_dash_like_a_missing_provider(
    settings: AuditSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write(
        settings,
        ("request", {"request_id": "anon", "tenant": None, "outcome": "unauthenticated"}),
        ("request", {"request_id": "bare", "outcome": "bad_request", "attempts": []}),
    )
    _, lines, _ = show(capsys, str(log))
    assert [line.split()[2:] for line in lines] == [
        ["-", "unauthenticated", "-", "anon"],
        ["-", "bad_request", "-", "bare"],
    ]


def test_an_unknown_outcome_is_refused_with_the_known_ones(
    settings: AuditSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write(settings, outcome("a", None))
    with pytest.raises(SystemExit) as caught:
        main(["audit", "show", str(log), "--outcome", "bogus"])
    err = capsys.readouterr().err
    assert caught.value.code == 2
    assert "invalid choice: 'bogus'" in err
    assert "'answered'" in err and "'interrupted'" in err


@pytest.mark.parametrize("value", ["yesterday", "2026-13-45", "3 days"])
def test_an_unreadable_time_says_which_formats_work(
    settings: AuditSettings, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    log = write(settings, outcome("a", None))
    with pytest.raises(SystemExit) as caught:
        main(["audit", "show", str(log), "--since", value])
    err = capsys.readouterr().err
    assert caught.value.code == 2
    assert f"argument --since: {value!r} is not an ISO 8601 date or time" in err
    assert "_timestamp" not in err and "24h" in err


@pytest.mark.parametrize(("since", "count"), [("1h", 1), ("2999-01-01", 0), ("2000-01-01", 1)])
def test_since_takes_a_time_ago_or_an_iso_date(
    settings: AuditSettings, capsys: pytest.CaptureFixture[str], since: str, count: int
) -> None:
    log = write(settings, outcome("a", None))
    assert len(show(capsys, str(log), "--since", since)[1]) == count


def test_piping_json_into_head_ends_quietly(settings: AuditSettings) -> None:
    # Far more than a pipe holds, so the command is still writing when head leaves.
    padding = "x" * 2000
    log = write(settings, *(outcome(f"req-{i}", None, note=padding) for i in range(300)))
    command = shlex.join([str(Path(sys.executable).with_name("policy-engine")), "audit", "show"])
    piped = subprocess.run(
        f"{command} {shlex.quote(str(log))} --json | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert piped.stderr == ""
    assert json.loads(piped.stdout)["event"]["request_id"] == "req-0"

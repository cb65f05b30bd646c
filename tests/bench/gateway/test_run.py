from pathlib import Path

import pytest

from bench.gateway._gateways import DEFAULT_SCENARIOS, SCENARIOS
from bench.gateway.run import modes_of, parse_args


def test_defaults_are_a_short_dev_run_over_every_default_scenario() -> None:
    args = parse_args([])
    assert args.duration == 5
    assert args.concurrency == [1, 16, 64]
    assert args.modes == ["json", "stream", "embeddings"]
    assert args.scenarios == DEFAULT_SCENARIOS


def test_lists_are_comma_separated() -> None:
    args = parse_args(["--scenarios", "direct,portkey", "--concurrency", "1,64"])
    assert args.scenarios == ["direct", "portkey"]
    assert args.concurrency == [1, 64]


def test_an_unknown_scenario_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--scenarios", "direct,envoy"])
    assert "envoy" in capsys.readouterr().err


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--modes", "websocket"])


def test_a_responses_scenario_skips_embeddings_with_a_log_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    modes = ["json", "stream", "embeddings"]
    assert modes_of(SCENARIOS["portkey-responses"], modes) == ["json", "stream"]
    assert "portkey-responses (embeddings): skipped" in capsys.readouterr().err


def test_a_chat_scenario_is_measured_in_every_mode_asked() -> None:
    modes = ["json", "stream", "embeddings"]
    assert modes_of(SCENARIOS["sidecar"], modes) == modes
    assert modes_of(SCENARIOS["direct"], ["embeddings"]) == ["embeddings"]


def test_a_baseline_tree_is_measured_right_after_the_sidecar(tmp_path: Path) -> None:
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").touch()
    args = parse_args(["--scenarios", "direct,sidecar,litellm", "--baseline", str(tmp_path)])
    assert args.scenarios == ["direct", "sidecar", "sidecar-baseline", "litellm"]


def test_a_baseline_without_a_virtualenv_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--baseline", str(tmp_path)])

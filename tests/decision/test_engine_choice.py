"""The config chooses the engine: an OPA URL means OPA, none means embedded regopy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from policy_engine._config import Settings, parse_config
from policy_engine.decision import EmbeddedEngine, OpaEngine, engine_from_settings
from tests.decision._support import POLICY_DIR


def settings(tmp_path: Path, policy: dict[str, Any]) -> Settings:
    provider = {
        "id": "p1",
        "adapter": "openai",
        "base_url": "https://p1.example/v1",
        "models": {"default": "small"},
    }
    audit = {"dir": str(tmp_path), "signing_key_file": str(tmp_path / "k.pem")}
    return parse_config({"providers": [provider], "audit": audit, "policy": policy})


def test_opa_url_selects_the_opa_engine(tmp_path: Path) -> None:
    engine = engine_from_settings(settings(tmp_path, {"opa_url": "http://127.0.0.1:8181"}))
    assert isinstance(engine, OpaEngine)


def test_no_opa_url_selects_the_embedded_engine_over_the_policy_dir(tmp_path: Path) -> None:
    engine = engine_from_settings(settings(tmp_path, {"policy_dir": str(POLICY_DIR)}))
    assert isinstance(engine, EmbeddedEngine)
    assert engine.policy_dir == POLICY_DIR

"""`policy-engine config check FILE`: what startup would find, and every problem at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policy_engine.audit import PRIVATE_KEY_NAME, write_key_pair
from policy_engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS_CONFIG = ROOT / "deploy" / "providers" / "policy-engine.yaml"
REAL_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "AZURE_OPENAI_API_KEY")
SYNTHETIC_KEY = "sk-synthetic-config-check-0123456789"


def relocated(tmp_path: Path, source: Path = PROVIDERS_CONFIG, *, key: bool = True) -> Path:
    """The config, its policy folder absolute and its audit log under tmp_path."""
    raw: dict[str, Any] = yaml.safe_load(source.read_text())
    raw["policy"]["policy_dir"] = str((source.parent / raw["policy"]["policy_dir"]).resolve())
    raw["audit"]["dir"] = str(tmp_path / "audit")
    raw["audit"]["signing_key_file"] = str(tmp_path / "keys" / PRIVATE_KEY_NAME)
    if key:
        write_key_pair(tmp_path / "keys", Ed25519PrivateKey.generate())
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw))
    return config


@pytest.fixture
def one_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*REAL_KEYS, "MISTRAL_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", SYNTHETIC_KEY)


def check(config: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str]:
    code = main(["config", "check", str(config), *flags])
    return code, capsys.readouterr().out


def test_the_real_providers_config_passes_with_one_key_and_says_what_it_holds(
    tmp_path: Path, one_key: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = check(relocated(tmp_path), capsys)
    assert code == 0, out
    assert "providers: 5" in out
    assert "key: env OPENAI_API_KEY (present)" in out
    assert "aliases: default (openai-us, anthropic-us, gemini, azure-openai-eu, mistral-eu)" in out
    assert "tenants: 6 (acme-eu, globex, lexvault, medibridge-us, paystream, sandbox)" in out
    assert "policy: embedded" in out and "revision sha256:" in out
    assert out.endswith("ok\n")


def test_a_missing_provider_key_is_a_warning_naming_its_variable(
    tmp_path: Path, one_key: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = check(relocated(tmp_path), capsys)
    assert "provider anthropic-us: api_key_env ANTHROPIC_API_KEY is not set" in out


def test_no_provider_key_at_all_is_a_problem(
    tmp_path: Path,
    one_key: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    code, out = check(relocated(tmp_path), capsys)
    assert code == 1
    assert "no provider has its API key" in out


def test_a_key_value_is_never_printed(
    tmp_path: Path, one_key: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = check(relocated(tmp_path), capsys, "--json")
    assert SYNTHETIC_KEY not in out


def test_a_tenant_naming_a_provider_the_config_lacks_is_a_warning(
    tmp_path: Path, one_key: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = check(relocated(tmp_path), capsys)
    assert "tenant medibridge-us: preference names azure-openai-us, which this config lacks" in out


def test_every_problem_is_listed_at_once(
    tmp_path: Path, one_key: None, capsys: pytest.CaptureFixture[str]
) -> None:
    config = relocated(tmp_path, key=False)
    raw = yaml.safe_load(config.read_text())
    rules = tmp_path / "rules"
    (rules / "router").mkdir(parents=True)
    (rules / "router" / "decision.rego").write_text("package router\n\ndecision := {\n")
    raw["policy"]["policy_dir"] = str(rules)
    raw["server"]["auth"] = {"tokens": [{"name": "app", "token_env": "CHECK_TOKEN_NEVER_SET"}]}
    config.write_text(yaml.safe_dump(raw))
    code, out = check(config, capsys)
    assert code == 1
    assert "problems: 3" in out
    assert "cannot read signing key" in out and "policy-engine keys generate --out" in out
    assert "policy: " in out and "does not compile" in out
    assert "server.auth.tokens.0: the token for 'app' is empty or unset" in out


def test_every_schema_error_is_listed_one_a_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "providers:\n"
        "  - {id: a, adapter: carrier-pigeon, base_url: 'http://x', models: {default: m}}\n"
        "  - {id: b, adapter: openai, base_url: 'ftp://x', models: {default: m}}\n"
    )
    code, out = check(config, capsys)
    assert code == 1
    assert "problems: 3" in out
    assert "  - providers.0.adapter: Value error, unknown adapter 'carrier-pigeon'" in out
    assert "  - providers.1.base_url: Value error, must be an http:// or https:// URL" in out
    assert "  - audit: Field required" in out


def test_an_unreadable_file_is_one_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = check(tmp_path / "absent.yaml", capsys)
    assert code == 1
    assert "cannot read config" in out


def test_json_holds_the_same_findings(
    tmp_path: Path, one_key: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = check(relocated(tmp_path), capsys, "--json")
    report = json.loads(out)
    assert code == 0
    assert [p["id"] for p in report["providers"]] == [
        "openai-us",
        "anthropic-us",
        "gemini",
        "azure-openai-eu",
        "mistral-eu",
    ]
    assert report["aliases"]["smart"][0] == "openai-us"
    assert report["policy"]["revision"].startswith("sha256:")
    assert report["problems"] == []


def test_the_demo_config_passes_once_its_key_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEMO_OPENAI_API_KEY", "demo-key")
    demo = ROOT / "deploy" / "demo" / "policy-engine.yaml"
    code, out = check(relocated(tmp_path, demo), capsys)
    assert code == 0, out
    assert "providers: 11" in out
    assert "AWS credential chain" in out and "Google service-account key" in out


def test_each_provider_shows_its_way_out(
    tmp_path: Path,
    one_key: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://svc:proxy-secret-9@proxy.corp.example:3128")
    code, out = check(relocated(tmp_path), capsys)
    assert code == 0, out
    assert "(present), proxy proxy.corp.example:3128; CAs: system store" in out
    assert "proxy-secret-9" not in out


def test_unusable_egress_settings_are_a_problem_naming_the_setting(
    tmp_path: Path, one_key: None, capsys: pytest.CaptureFixture[str]
) -> None:
    config = relocated(tmp_path)
    raw = yaml.safe_load(config.read_text())
    raw["routing"] = {**raw.get("routing", {}), "ca_bundle": str(tmp_path / "missing.pem")}
    raw["providers"][0]["proxy"] = {"url": "http://p:3128", "credentials_env": "UNSET_PROXY_AUTH"}
    config.write_text(yaml.safe_dump(raw))
    code, out = check(config, capsys)
    assert code == 1
    assert f"routing.ca_bundle {tmp_path / 'missing.pem'}: cannot load it" in out

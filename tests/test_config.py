"""The YAML config: the demo validates, every mistake names its field, paths follow the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from policy_engine._config import load_config, parse_config, resolve_api_keys
from policy_engine._errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
DEMO_CONFIG = ROOT / "deploy" / "demo" / "policy-engine.yaml"

Edit = Callable[[dict[str, Any]], None]


def valid_config() -> dict[str, Any]:
    return {
        "providers": [
            {
                "id": "openai-us",
                "adapter": "openai",
                "base_url": "https://api.openai.example/v1/",
                "api_key_env": "TEST_OPENAI_KEY",
                "models": {"default": "small-model", "smart": "big-model"},
                "attributes": {"residency": "us", "certifications": ["soc2"], "tier": "gold"},
            },
            {
                "id": "azure-eu",
                "adapter": "azure_openai",
                "base_url": "https://eu.azure.example",
                "api_key_env": "TEST_AZURE_KEY",
                "options": {"api_version": "2024-10-21"},
                "models": {"default": "small-deployment"},
                "attributes": {"residency": "eu", "zero_data_retention": True},
            },
        ],
        "audit": {"dir": "/var/audit", "signing_key_file": "/etc/keys/audit.pem"},
    }


def error_for(edit: Edit) -> str:
    raw = valid_config()
    edit(raw)
    with pytest.raises(ConfigError) as raised:
        parse_config(raw)
    return raised.value.message


def first_provider(raw: dict[str, Any]) -> dict[str, Any]:
    provider: dict[str, Any] = raw["providers"][0]
    return provider


def test_demo_config_validates() -> None:
    settings = load_config(DEMO_CONFIG)
    assert len(settings.providers) == 11


def test_demo_config_points_at_the_shipped_policies() -> None:
    settings = load_config(DEMO_CONFIG)
    assert settings.policy.policy_dir.resolve() == ROOT / "policies"


def test_valid_config_parses_with_defaults_for_omitted_sections() -> None:
    settings = parse_config(valid_config())
    assert settings.policy.opa_url is None
    assert settings.server.host == "127.0.0.1"


def test_the_detection_cache_is_on_by_default_and_can_be_turned_off() -> None:
    assert parse_config(valid_config()).redaction.detection_cache_entries == 4096
    raw = valid_config()
    raw["redaction"] = {"detection_cache_entries": 0}
    assert parse_config(raw).redaction.detection_cache_entries == 0
    message = error_for(lambda raw: raw.update(redaction={"detection_cache_entries": -1}))
    assert "detection_cache_entries" in message


def test_base_url_loses_its_trailing_slash() -> None:
    assert parse_config(valid_config()).providers[0].base_url == "https://api.openai.example/v1"


def test_unknown_provider_attributes_reach_the_policy() -> None:
    attributes = parse_config(valid_config()).providers[0].attributes
    assert attributes.model_dump()["tier"] == "gold"


def test_model_attributes_are_optional_and_keyed_by_provider_model() -> None:
    raw = valid_config()
    first_provider(raw)["model_attributes"] = {
        "big-model": {"model": "gpt-4o", "quality": 88.7, "context_window": 128000}
    }
    provider = parse_config(raw).providers[0]
    assert provider.model_facts("big-model").quality == 88.7
    assert provider.model_facts("small-model").quality is None
    assert parse_config(valid_config()).providers[0].model_attributes == {}


def test_a_models_own_price_overrides_the_providers() -> None:
    raw = valid_config()
    first_provider(raw)["attributes"].update(price_per_1m_input=0.15, price_per_1m_output=0.6)
    first_provider(raw)["model_attributes"] = {
        "big-model": {"price_per_1m_input": 2.5, "price_per_1m_output": 10}
    }
    provider = parse_config(raw).providers[0]
    assert provider.price("big-model") == (2.5, 10)
    assert provider.price("small-model") == (0.15, 0.6)


def test_a_model_without_any_price_has_none() -> None:
    assert parse_config(valid_config()).providers[0].price("big-model") is None


INVALID: dict[str, tuple[Edit, str]] = {
    "unknown adapter": (
        lambda raw: first_provider(raw).update(adapter="cohere"),
        "providers.0.adapter",
    ),
    "missing default alias": (
        lambda raw: first_provider(raw).update(models={"smart": "big-model"}),
        "providers.0.models",
    ),
    "duplicate id": (
        lambda raw: raw["providers"][1].update(id="openai-us"),
        "duplicate provider id 'openai-us'",
    ),
    "base_url with credentials": (
        lambda raw: first_provider(raw).update(base_url="https://user:pw@api.example"),
        "providers.0.base_url",
    ),
    "base_url with query": (
        lambda raw: first_provider(raw).update(base_url="https://api.example/v1?key=x"),
        "providers.0.base_url",
    ),
    "base_url not http": (
        lambda raw: first_provider(raw).update(base_url="ftp://api.example"),
        "providers.0.base_url",
    ),
    "azure without api_version": (
        lambda raw: raw["providers"][1].update(options={}),
        "providers.1: Value error, azure_openai needs options.api_version",
    ),
    "key from env and file": (
        lambda raw: first_provider(raw).update(api_key_file="/run/secrets/key"),
        "providers.0: Value error, set api_key_env or api_key_file",
    ),
    "bad provider id": (
        lambda raw: first_provider(raw).update(id="OpenAI US"),
        "providers.0.id",
    ),
    "unknown top-level key": (lambda raw: raw.update(surprise=True), "surprise"),
    "unknown provider key": (
        lambda raw: first_provider(raw).update(api_key="inline"),
        "providers.0.api_key",
    ),
    "wrong type": (
        lambda raw: raw.update(routing={"deadline_s": "soon"}),
        "routing.deadline_s",
    ),
    "out of range": (lambda raw: raw.update(server={"port": 70000}), "server.port"),
    "unknown strategy": (
        lambda raw: raw.update(routing={"strategy": "random"}),
        "routing.strategy",
    ),
    "no providers": (lambda raw: raw.update(providers=[]), "providers"),
    "missing audit": (lambda raw: raw.pop("audit"), "audit"),
    "audit without signing key": (
        lambda raw: raw["audit"].pop("signing_key_file"),
        "audit.signing_key_file",
    ),
    "model attributes for a model not served": (
        lambda raw: first_provider(raw).update(model_attributes={"big-modle": {"quality": 80}}),
        "providers.0: Value error, model_attributes names 'big-modle', which models does not map",
    ),
    "quality out of range": (
        lambda raw: first_provider(raw).update(model_attributes={"big-model": {"quality": 101}}),
        "providers.0.model_attributes.big-model.quality",
    ),
    "quality with two decimals": (
        lambda raw: first_provider(raw).update(model_attributes={"big-model": {"quality": 84.96}}),
        "a quality score has at most one decimal",
    ),
    "context window not positive": (
        lambda raw: first_provider(raw).update(
            model_attributes={"big-model": {"context_window": 0}}
        ),
        "providers.0.model_attributes.big-model.context_window",
    ),
    "tools not a boolean": (
        lambda raw: first_provider(raw).update(model_attributes={"big-model": {"tools": "maybe"}}),
        "providers.0.model_attributes.big-model.tools",
    ),
    "model name with a line break": (
        lambda raw: first_provider(raw).update(models={"default": "gpt-4o\r\nX-Evil: 1"}),
        "provider model names are 1-256 visible ASCII characters",
    ),
    "model name with a space": (
        lambda raw: first_provider(raw).update(models={"default": "gpt 4o"}),
        "provider model names are 1-256 visible ASCII characters",
    ),
    "model identity that is not a header value": (
        lambda raw: first_provider(raw).update(
            model_attributes={"big-model": {"model": "gpt-4o\u00e9"}}
        ),
        "providers.0.model_attributes.big-model.model",
    ),
    "negative monthly cost": (
        lambda raw: first_provider(raw)["attributes"].update(cost_per_month=-1),
        "providers.0.attributes.cost_per_month",
    ),
}


@pytest.mark.parametrize(("edit", "field"), INVALID.values(), ids=INVALID.keys())
def test_invalid_config_error_names_the_bad_field(edit: Edit, field: str) -> None:
    assert field in error_for(edit)


def test_error_message_names_the_source() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({"providers": []}, source="/etc/pe.yaml")
    assert raised.value.message.startswith("/etc/pe.yaml is invalid")


def test_top_level_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        parse_config(["providers"])


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "absent.yaml")


def test_invalid_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("providers: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def write_config(folder: Path, raw: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "policy-engine.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_relative_paths_are_resolved_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = valid_config()
    raw["policy"] = {"policy_dir": "rules"}
    raw["audit"] = {"dir": "log", "signing_key_file": "keys/audit.pem"}
    path = write_config(tmp_path / "etc", raw)
    monkeypatch.chdir(tmp_path)
    settings = load_config(path)
    assert settings.policy.policy_dir == tmp_path / "etc" / "rules"
    assert settings.audit.dir == tmp_path / "etc" / "log"
    assert settings.audit.signing_key_file == tmp_path / "etc" / "keys" / "audit.pem"


def test_relative_secret_file_is_resolved_against_the_config_folder(tmp_path: Path) -> None:
    raw = valid_config()
    first_provider(raw).pop("api_key_env")
    first_provider(raw)["api_key_file"] = "secrets/openai"
    settings = load_config(write_config(tmp_path / "etc", raw))
    assert settings.providers[0].api_key_file == tmp_path / "etc" / "secrets" / "openai"


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    settings = load_config(write_config(tmp_path, valid_config()))
    assert settings.audit.dir == Path("/var/audit")


def test_api_keys_come_from_the_given_environment() -> None:
    settings = parse_config(valid_config())
    keys = resolve_api_keys(settings, {"TEST_OPENAI_KEY": "synthetic-openai"}).keys
    openai_key = keys["openai-us"]
    assert openai_key is not None
    assert openai_key.get_secret_value() == "synthetic-openai"


def test_an_api_key_missing_from_the_environment_is_reported_by_its_variable() -> None:
    resolved = resolve_api_keys(parse_config(valid_config()), {"TEST_OPENAI_KEY": "synthetic"})
    assert resolved.keys["azure-eu"] is None
    assert resolved.missing == {"azure-eu": "api_key_env TEST_AZURE_KEY is not set"}


def test_an_empty_api_key_is_reported_as_empty() -> None:
    environ = {"TEST_OPENAI_KEY": " \n", "TEST_AZURE_KEY": "synthetic"}
    resolved = resolve_api_keys(parse_config(valid_config()), environ)
    assert resolved.keys["openai-us"] is None
    assert resolved.missing == {"openai-us": "api_key_env TEST_OPENAI_KEY is empty"}


def test_a_provider_configured_without_a_key_is_not_missing_one() -> None:
    raw = valid_config()
    first_provider(raw).pop("api_key_env")
    resolved = resolve_api_keys(parse_config(raw), {"TEST_AZURE_KEY": "synthetic"})
    assert resolved.keys["openai-us"] is None
    assert resolved.missing == {}


def test_api_key_comes_from_a_secret_file_without_its_newline(tmp_path: Path) -> None:
    secret = tmp_path / "openai-key"
    secret.write_text("synthetic-from-file\n")
    raw = valid_config()
    first_provider(raw).pop("api_key_env")
    first_provider(raw)["api_key_file"] = str(secret)
    openai_key = resolve_api_keys(parse_config(raw), {}).keys["openai-us"]
    assert openai_key is not None
    assert openai_key.get_secret_value() == "synthetic-from-file"


def test_an_absent_secret_file_is_reported_with_its_path(tmp_path: Path) -> None:
    raw = valid_config()
    first_provider(raw).pop("api_key_env")
    first_provider(raw)["api_key_file"] = str(tmp_path / "absent")
    resolved = resolve_api_keys(parse_config(raw), {"TEST_AZURE_KEY": "synthetic"})
    assert resolved.keys["openai-us"] is None
    assert resolved.missing == {
        "openai-us": f"api_key_file {tmp_path / 'absent'}: No such file or directory"
    }


def test_an_empty_secret_file_is_reported_as_empty(tmp_path: Path) -> None:
    secret = tmp_path / "empty"
    secret.write_text("\n")
    raw = valid_config()
    first_provider(raw).pop("api_key_env")
    first_provider(raw)["api_key_file"] = str(secret)
    resolved = resolve_api_keys(parse_config(raw), {"TEST_AZURE_KEY": "synthetic"})
    assert resolved.missing == {"openai-us": f"api_key_file {secret} is empty"}


def test_a_missing_key_reason_never_holds_a_key(tmp_path: Path) -> None:
    secret = tmp_path / "binary"
    secret.write_bytes(b"sk-synthetic\xff\xfe")
    raw = valid_config()
    first_provider(raw).pop("api_key_env")
    first_provider(raw)["api_key_file"] = str(secret)
    resolved = resolve_api_keys(parse_config(raw), {"TEST_AZURE_KEY": "synthetic"})
    assert "sk-synthetic" not in resolved.missing["openai-us"]
    assert "not UTF-8" in resolved.missing["openai-us"]


def test_api_keys_are_never_shown_in_the_settings_repr() -> None:
    keys = resolve_api_keys(parse_config(valid_config()), {"TEST_OPENAI_KEY": "synthetic-abc"})
    assert "synthetic-abc" not in repr(keys)
    assert "synthetic-abc" not in str(keys)

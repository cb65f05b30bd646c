"""`redaction.phone_regions`: the national phone formats that count, from config to detector."""

from __future__ import annotations

from typing import Any

import pytest

from policy_engine._config import parse_config
from policy_engine._errors import ConfigError
from policy_engine.redaction import DEFAULT_PHONE_REGIONS, ENTITY_TYPES, default_redactor


def _config(redaction: dict[str, Any]) -> dict[str, Any]:
    return {
        "providers": [
            {
                "id": "openai-us",
                "adapter": "openai",
                "base_url": "https://api.openai.example/v1/",
                "models": {"default": "small-model"},
            }
        ],
        "audit": {"dir": "/var/audit", "signing_key_file": "/etc/keys/audit.pem"},
        "redaction": redaction,
    }


def test_phone_regions_default_to_the_detectors_default() -> None:
    assert parse_config(_config({})).redaction.phone_regions == DEFAULT_PHONE_REGIONS


def test_phone_regions_are_read_in_either_case() -> None:
    settings = parse_config(_config({"phone_regions": ["fr", "CA"]}))
    assert settings.redaction.phone_regions == ("FR", "CA")


def test_an_unknown_phone_region_is_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(_config({"phone_regions": ["US", "XX"]}))
    assert "redaction.phone_regions" in raised.value.message
    assert "XX" in raised.value.message


def test_the_configured_regions_reach_the_redactor() -> None:
    settings = parse_config(_config({"phone_regions": ["CA"]}))
    redactor = default_redactor(phone_regions=settings.redaction.phone_regions)
    text = "call (250) 222-7606 or 06 12 34 56 78"
    redacted = redactor.session().redact_text(text, ENTITY_TYPES)
    assert redacted == "call <PHONE_NUMBER_1> or 06 12 34 56 78"

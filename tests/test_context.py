"""The routing context: headers parsed strictly, request size estimated, policy input shaped."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.datastructures import Headers

from adapters import ChatRequest, ImagePart, Message, TextPart, ToolCall, ToolResult
from policy_engine._config import parse_config
from policy_engine._context import (
    RoutingContext,
    RoutingHeaders,
    approximate_input_chars,
    policy_input,
    provider_catalog,
    read_routing_headers,
    routing_context,
)
from policy_engine._errors import BadRequest


def headers(
    tenant: str | None = "acme-eu", residency: str | None = None, tags: str | None = None
) -> dict[str, str]:
    values = {"x-tenant-id": tenant, "x-data-residency": residency, "x-privacy-tags": tags}
    return {name: value for name, value in values.items() if value is not None}


def rejected(raw: dict[str, str]) -> BadRequest:
    with pytest.raises(BadRequest) as raised:
        read_routing_headers(raw)
    return raised.value


# Tenant


@pytest.mark.parametrize("tenant", [None, "", "   "])
def test_missing_tenant_is_rejected(tenant: str | None) -> None:
    error = rejected(headers(tenant=tenant))
    assert error.message == "missing required header X-Tenant-ID"
    assert error.param == "X-Tenant-ID"


@pytest.mark.parametrize(
    "tenant",
    ["acme eu", "acme/eu", "-acme", ".acme", "acme\u00e9", "acme;drop", "a" * 129],
    ids=["space", "slash", "leading-dash", "leading-dot", "non-ascii", "semicolon", "too-long"],
)
def test_tenant_with_bad_characters_is_rejected(tenant: str) -> None:
    assert rejected(headers(tenant=tenant)).param == "X-Tenant-ID"


def test_rejected_tenant_is_not_echoed_in_the_error() -> None:
    assert "drop table" not in rejected(headers(tenant="x; drop table")).message


@pytest.mark.parametrize("tenant", ["acme-eu", "A1", "org:team.unit_7", "a" * 128])
def test_well_formed_tenant_is_kept_as_sent(tenant: str) -> None:
    assert read_routing_headers(headers(tenant=tenant)).tenant == tenant


def test_tenant_is_stripped_of_surrounding_spaces() -> None:
    assert read_routing_headers(headers(tenant="  acme-eu ")).tenant == "acme-eu"


def test_header_names_are_case_insensitive_with_real_headers() -> None:
    raw = Headers({"X-Tenant-ID": "acme-eu", "X-Data-Residency": "EU", "X-Privacy-Tags": "PII"})
    assert read_routing_headers(raw) == RoutingHeaders("acme-eu", "eu", ("pii",))


# Residency


@pytest.mark.parametrize(
    ("sent", "read"),
    [(None, None), ("", None), ("   ", None), ("eu", "eu"), ("EU", "eu"), (" Us ", "us")],
)
def test_residency_is_normalised(sent: str | None, read: str | None) -> None:
    assert read_routing_headers(headers(residency=sent)).residency == read


@pytest.mark.parametrize("residency", ["e", "eu-west", "eu1", "e u", "a" * 17])
def test_malformed_residency_is_rejected(residency: str) -> None:
    assert rejected(headers(residency=residency)).param == "X-Data-Residency"


# Privacy tags


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        (None, ()),
        ("", ()),
        ("pii", ("pii",)),
        ("phi,pii", ("phi", "pii")),
        ("PII, phi ,pii", ("phi", "pii")),
        (",,pii,, ", ("pii",)),
        ("pci_v4,data-class-2", ("data-class-2", "pci_v4")),
    ],
)
def test_tags_are_lowercased_deduplicated_and_sorted(
    sent: str | None, read: tuple[str, ...]
) -> None:
    assert read_routing_headers(headers(tags=sent)).privacy_tags == read


@pytest.mark.parametrize("tags", ["p i", "pii;phi", "_pii", "pii,ph\u00ef", "t" * 33])
def test_malformed_tag_is_rejected(tags: str) -> None:
    assert rejected(headers(tags=tags)).param == "X-Privacy-Tags"


def test_up_to_32_distinct_tags_are_accepted() -> None:
    tags = ",".join(f"t{i}" for i in range(32))
    assert len(read_routing_headers(headers(tags=tags)).privacy_tags) == 32


def test_more_than_32_distinct_tags_are_rejected() -> None:
    tags = ",".join(f"t{i}" for i in range(33))
    assert "more than 32" in rejected(headers(tags=tags)).message


def test_repeated_tags_count_once_towards_the_limit() -> None:
    assert read_routing_headers(headers(tags=",".join(["pii"] * 100))).privacy_tags == ("pii",)


# Request size


def test_input_size_counts_system_and_message_text() -> None:
    request = ChatRequest(
        model="default",
        system=["abc", "de"],
        messages=[Message("user", [TextPart("hello"), TextPart("!")])],
    )
    assert approximate_input_chars(request) == 3 + 2 + 5 + 1


def test_input_size_ignores_images() -> None:
    image = ImagePart(url="data:image/png;base64," + "A" * 1000)
    request = ChatRequest(model="default", messages=[Message("user", [TextPart("hi"), image])])
    assert approximate_input_chars(request) == 2


def test_input_size_counts_tool_call_arguments_and_tool_results() -> None:
    call = ToolCall(id="call_1", name="lookup", arguments='{"q":"x"}')
    result = ToolResult(tool_call_id="call_1", content=[TextPart("found"), ImagePart(url="u")])
    request = ChatRequest(
        model="default",
        messages=[Message("assistant", tool_calls=[call]), Message("tool", tool_result=result)],
    )
    assert approximate_input_chars(request) == len('{"q":"x"}') + len("found")


# Context and policy input


def sample_context() -> RoutingContext:
    request = ChatRequest(
        model="smart", messages=[Message("user", [TextPart("hello")])], stream=True
    )
    return routing_context(RoutingHeaders("acme-eu", "eu", ("phi", "pii")), request, "anthropic")


def test_context_joins_headers_and_request() -> None:
    assert sample_context() == RoutingContext(
        tenant="acme-eu",
        residency="eu",
        privacy_tags=("phi", "pii"),
        model="smart",
        stream=True,
        input_chars=5,
        protocol="anthropic",
    )


def test_context_summary_leaves_out_the_tenant() -> None:
    assert "tenant" not in sample_context().summary()


def test_policy_input_has_the_documented_shape() -> None:
    catalog = {"p1": {"adapter": "openai", "models": ["default"], "attributes": {}}}
    assert policy_input(sample_context(), catalog) == {
        "tenant": "acme-eu",
        "request": {
            "residency": "eu",
            "privacy_tags": ["phi", "pii"],
            "model": "smart",
            "stream": True,
            "input_chars": 5,
            "protocol": "anthropic",
        },
        "budget": {"exhausted": [], "remaining": {}},
        "providers": catalog,
    }


def test_catalog_gives_the_policy_aliases_and_attributes_without_secrets(tmp_path: Path) -> None:
    settings = parse_config(
        {
            "providers": [
                {
                    "id": "p1",
                    "adapter": "openai",
                    "base_url": "https://p1.example/v1",
                    "api_key_env": "TEST_P1_KEY",
                    "models": {"smart": "big", "default": "small"},
                    "attributes": {"residency": "eu", "tier": "gold"},
                }
            ],
            "audit": {"dir": str(tmp_path), "signing_key_file": str(tmp_path / "k.pem")},
        }
    )
    assert provider_catalog(settings) == {
        "p1": {
            "adapter": "openai",
            "models": ["default", "smart"],
            "attributes": {
                "residency": "eu",
                "certifications": [],
                "zero_data_retention": False,
                "self_hosted": False,
                "tier": "gold",
            },
        }
    }

"""The routing context: headers parsed strictly, request size estimated, policy input shaped."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.datastructures import Headers

from adapters import (
    ChatRequest,
    EmbeddingRequest,
    ImagePart,
    Message,
    TextPart,
    Tool,
    ToolCall,
    ToolResult,
)
from policy_engine._config import parse_config
from policy_engine._context import (
    RoutingContext,
    RoutingHeaders,
    embedding_context,
    estimate_input_tokens,
    measure_input,
    policy_input,
    provider_catalog,
    read_routing_headers,
    routing_context,
)
from policy_engine._errors import BadRequest


def headers(
    tenant: str | None = "acme-eu",
    residency: str | None = None,
    tags: str | None = None,
    task_class: str | None = None,
) -> dict[str, str]:
    values = {
        "x-tenant-id": tenant,
        "x-data-residency": residency,
        "x-privacy-tags": tags,
        "x-task-class": task_class,
    }
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


# Task class


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        (None, ()),
        ("", ()),
        ("analysis", ("analysis",)),
        (" Analysis ", ("analysis",)),
        ("autocomplete, analysis,autocomplete", ("analysis", "autocomplete")),
    ],
)
def test_task_classes_are_lowercased_deduplicated_and_sorted(
    sent: str | None, read: tuple[str, ...]
) -> None:
    assert read_routing_headers(headers(task_class=sent)).task_classes == read


@pytest.mark.parametrize(
    "task_class", ["deep analysis", "analysis;rm", "4111111111111111", "_x", "t" * 33, "anälysis"]
)
def test_malformed_task_class_is_rejected_without_echo(task_class: str) -> None:
    error = rejected(headers(task_class=task_class))
    assert error.param == "X-Task-Class"
    assert task_class not in error.message


def test_more_than_8_task_classes_are_rejected() -> None:
    classes = ",".join(f"c{i}" for i in range(9))
    assert "more than 8" in rejected(headers(task_class=classes)).message


def test_task_class_header_name_is_case_insensitive_with_real_headers() -> None:
    raw = Headers({"X-Tenant-ID": "acme-eu", "X-Task-Class": "Summarize"})
    assert read_routing_headers(raw).task_classes == ("summarize",)


# Request size and needs


def test_input_size_counts_system_and_message_text() -> None:
    request = ChatRequest(
        model="default",
        system=["abc", "de"],
        messages=[Message("user", [TextPart("hello"), TextPart("!")])],
    )
    assert measure_input(request).chars == 3 + 2 + 5 + 1


def test_input_size_counts_images_apart_from_text() -> None:
    image = ImagePart(url="data:image/png;base64," + "A" * 1000)
    request = ChatRequest(model="default", messages=[Message("user", [TextPart("hi"), image])])
    measure = measure_input(request)
    assert (measure.chars, measure.images) == (2, 1)


def test_input_size_counts_tool_call_arguments_and_tool_results() -> None:
    call = ToolCall(id="call_1", name="lookup", arguments='{"q":"x"}')
    result = ToolResult(tool_call_id="call_1", content=[TextPart("found"), ImagePart(url="u")])
    request = ChatRequest(
        model="default",
        messages=[Message("assistant", tool_calls=[call]), Message("tool", tool_result=result)],
    )
    measure = measure_input(request)
    assert measure.chars == len('{"q":"x"}') + len("found")
    assert measure.images == 1


def test_plain_text_needs_no_tools_and_no_images() -> None:
    measure = measure_input(
        ChatRequest(model="default", messages=[Message("user", [TextPart("hi")])])
    )
    assert (measure.tools, measure.images) == (False, 0)


def test_offered_tools_are_a_need() -> None:
    request = ChatRequest(
        model="default",
        messages=[Message("user", [TextPart("hi")])],
        tools=[Tool(name="lookup", description=None, parameters={})],
    )
    assert measure_input(request).tools is True


def test_tool_calls_in_the_conversation_are_a_need_without_offered_tools() -> None:
    call = ToolCall(id="call_1", name="lookup", arguments="{}")
    request = ChatRequest(model="default", messages=[Message("assistant", tool_calls=[call])])
    assert measure_input(request).tools is True


@pytest.mark.parametrize(
    ("chars", "images", "tokens"),
    [
        (0, 0, 0),
        (1, 0, 64),
        (400, 0, 128),
        (20_000, 0, 5120),
        (36_000, 0, 9216),
        (0, 1, 1664),
        (4 * 128_000, 0, 131_072),
    ],
)
def test_input_tokens_are_a_quarter_of_the_characters_rounded_up(
    chars: int, images: int, tokens: int
) -> None:
    assert estimate_input_tokens(chars, images) == tokens


def test_input_token_estimate_never_rounds_down_and_stays_within_an_eighth() -> None:
    for chars in range(1, 2_000_000, 997):
        exact = -(-chars // 4)
        estimate = estimate_input_tokens(chars, 0)
        assert exact <= estimate <= max(64, exact * 9 // 8 + 1)


def test_input_token_estimate_takes_few_distinct_values() -> None:
    values = {estimate_input_tokens(chars, 0) for chars in range(0, 4_000_000, 13)}
    assert len(values) < 8 * 20


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
        input_tokens=64,
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
            "task_classes": [],
            "model": "smart",
            "stream": True,
            "input_chars": 5,
            "input_tokens": 64,
            "has_tools": False,
            "has_images": False,
            "protocol": "anthropic",
            "operation": "chat",
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
            "model_attributes": {"default": {"model": "small"}, "smart": {"model": "big"}},
        }
    }


def test_catalog_gives_the_policy_each_aliass_model_facts(tmp_path: Path) -> None:
    settings = parse_config(
        {
            "providers": [
                {
                    "id": "azure",
                    "adapter": "azure_openai",
                    "options": {"api_version": "2024-10-21"},
                    "base_url": "https://azure.example",
                    "models": {"default": "prod-4o-mini", "smart": "prod-4o"},
                    "model_attributes": {
                        "prod-4o": {
                            "model": "gpt-4o",
                            "quality": 88.7,
                            "context_window": 128000,
                            "tools": True,
                            "vision": True,
                            "family_note": "any other fact",
                        }
                    },
                }
            ],
            "audit": {"dir": str(tmp_path), "signing_key_file": str(tmp_path / "k.pem")},
        }
    )
    assert provider_catalog(settings)["azure"]["model_attributes"] == {
        "default": {"model": "prod-4o-mini"},
        "smart": {
            "model": "gpt-4o",
            "quality": 88.7,
            "context_window": 128000,
            "tools": True,
            "vision": True,
            "family_note": "any other fact",
        },
    }


def test_context_carries_task_classes_and_needs_into_the_policy_input() -> None:
    request = ChatRequest(
        model="default",
        messages=[Message("user", [TextPart("x" * 40_000), ImagePart(url="u")])],
        tools=[Tool(name="t", description=None, parameters={})],
    )
    context = routing_context(RoutingHeaders("acme-eu", None, (), ("analysis",)), request, "openai")
    fields = policy_input(context, {})["request"]
    assert fields["task_classes"] == ["analysis"]
    assert fields["input_tokens"] == estimate_input_tokens(40_000, 1) == 12_288
    assert fields["has_tools"] is True
    assert fields["has_images"] is True


def test_an_embeddings_context_counts_every_input_but_sizes_the_longest() -> None:
    request = EmbeddingRequest("embed", ["a" * 4000, "b" * 400, "c"])
    context = embedding_context(RoutingHeaders("acme-eu", "eu", ("pii",)), request)
    assert context.operation == "embeddings"
    assert context.input_chars == 4401
    # Each input is embedded on its own: the window must hold the longest, not the sum.
    assert context.input_tokens == estimate_input_tokens(4000, 0)
    assert (context.stream, context.has_tools, context.has_images) == (False, False, False)
    assert context.summary()["operation"] == "embeddings"


def test_a_chat_context_is_the_chat_operation_unless_told() -> None:
    assert sample_context().operation == "chat"
    assert sample_context().summary()["operation"] == "chat"

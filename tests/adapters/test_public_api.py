"""The public surface of `adapters`: what other packages may import."""

from __future__ import annotations

import pytest

import adapters
from adapters import (
    ADAPTER_NAMES,
    AnthropicClientCodec,
    AnthropicCodec,
    AzureOpenAICodec,
    BedrockCodec,
    ErrorType,
    GeminiCodec,
    OpenAIClientCodec,
    OpenAICodec,
    ResponsesClientCodec,
    VertexCodec,
    adapter_features,
    client_codec,
    provider_codec,
)


def test_the_public_names_are_pinned() -> None:
    assert sorted(adapters.__all__) == sorted(
        [
            "ADAPTER_NAMES",
            "AwsCredentials",
            "BedrockCodec",
            "CloudCredentials",
            "CredentialsUnavailable",
            "GoogleCredentials",
            "VertexCodec",
            "inference_geography",
            "keep_fresh",
            "load_all",
            "AnthropicClientCodec",
            "AnthropicCodec",
            "AzureOpenAICodec",
            "AzureOpenAIEmbeddingsCodec",
            "CLIENT_PROTOCOLS",
            "CacheBreakpoint",
            "ChatRequest",
            "ChatResponse",
            "ClientCodec",
            "EMBEDDING_ADAPTERS",
            "EmbeddingClientCodec",
            "EmbeddingProviderCodec",
            "EmbeddingRequest",
            "EmbeddingResponse",
            "EncodingFormat",
            "ErrorType",
            "Feature",
            "FinishReason",
            "GeminiCodec",
            "GeminiEmbeddingsCodec",
            "HttpRequest",
            "ImagePart",
            "InvalidRequest",
            "LogprobsDelta",
            "Message",
            "OpenAIClientCodec",
            "OpenAICodec",
            "OpenAIEmbeddingsClientCodec",
            "OpenAIEmbeddingsCodec",
            "Part",
            "PromptCache",
            "ProviderCodec",
            "ProviderError",
            "ProviderErrorKind",
            "ProviderTarget",
            "RETRYABLE_KINDS",
            "ReasoningEffort",
            "ResponseFormat",
            "ResponsesClientCodec",
            "Role",
            "SSEDecoder",
            "SSEEvent",
            "ServiceTier",
            "StreamDecoder",
            "StreamEncoder",
            "StreamEnd",
            "StreamEvent",
            "StreamStart",
            "TextDelta",
            "TextPart",
            "Thinking",
            "TokenLogprob",
            "Tool",
            "ToolCall",
            "ToolCallDelta",
            "ToolChoice",
            "ToolResult",
            "TopLogprob",
            "Usage",
            "Verbosity",
            "adapter_features",
            "client_codec",
            "embedding_client_codec",
            "embedding_codec",
            "embedding_max_inputs",
            "feature_label",
            "feature_param",
            "provider_codec",
            "requirements",
        ]
    )
    assert all(hasattr(adapters, name) for name in adapters.__all__)


def test_each_adapter_name_has_its_codec() -> None:
    codecs = {name: type(provider_codec(name)) for name in ADAPTER_NAMES}
    assert codecs == {
        "openai": OpenAICodec,
        "azure_openai": AzureOpenAICodec,
        "anthropic": AnthropicCodec,
        "gemini": GeminiCodec,
        "bedrock": BedrockCodec,
        "vertex": VertexCodec,
    }


def test_each_adapter_declares_the_features_its_codec_honours() -> None:
    for name in ADAPTER_NAMES:
        assert adapter_features(name) == provider_codec(name).features
    assert adapter_features("openai") > adapter_features("azure_openai")


def test_each_client_protocol_has_its_codec() -> None:
    assert isinstance(client_codec("openai"), OpenAIClientCodec)
    assert isinstance(client_codec("anthropic"), AnthropicClientCodec)
    assert isinstance(client_codec("responses"), ResponsesClientCodec)
    with pytest.raises(ValueError, match="unknown client protocol"):
        client_codec("gemini")


def test_error_types_are_the_fixed_neutral_set() -> None:
    assert {e.value for e in ErrorType} == {
        "invalid_request",
        "authentication",
        "permission",
        "not_found",
        "request_too_large",
        "rate_limit",
        "api_error",
        "overloaded",
        "timeout",
        "policy_denied",
        "policy_unavailable",
        "providers_unavailable",
        "content_filter",
    }


def test_an_unknown_error_type_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        client_codec("openai").encode_error(500, "oops", "m")

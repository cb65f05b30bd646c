"""Codec lookup by the names used in config (`adapter:`) and by the inbound routes."""

from __future__ import annotations

from adapters._anthropic import AnthropicCodec
from adapters._anthropic_client import AnthropicClientCodec
from adapters._base import (
    ClientCodec,
    EmbeddingClientCodec,
    EmbeddingProviderCodec,
    ProviderCodec,
)
from adapters._bedrock import BedrockCodec
from adapters._bedrock_body import family_features
from adapters._cloud_auth import CloudCredentials
from adapters._embeddings_client import OpenAIEmbeddingsClientCodec
from adapters._embeddings_gemini import GeminiEmbeddingsCodec
from adapters._embeddings_openai import AzureOpenAIEmbeddingsCodec, OpenAIEmbeddingsCodec
from adapters._features import Feature
from adapters._gemini import GeminiCodec
from adapters._openai import AzureOpenAICodec, OpenAICodec
from adapters._openai_client import OpenAIClientCodec
from adapters._responses_client import ResponsesClientCodec
from adapters._vertex import VertexCodec
from adapters._vertex import model_features as vertex_features

ADAPTER_NAMES = ("openai", "azure_openai", "anthropic", "gemini", "bedrock", "vertex")
_FEATURES = {
    "openai": OpenAICodec.features,
    "azure_openai": AzureOpenAICodec.features,
    "anthropic": AnthropicCodec.features,
    "gemini": GeminiCodec.features,
    "bedrock": BedrockCodec.features,
    "vertex": VertexCodec.features,
}
# "responses" is OpenAI's Responses API, read into the same chat model as the others.
CLIENT_PROTOCOLS = ("openai", "anthropic", "responses")


def provider_codec(adapter: str, credentials: CloudCredentials | None = None) -> ProviderCodec:
    """The codec for `adapter`; `bedrock` signs with AWS credentials, `vertex` with
    Google ones, when given (see `adapters._cloud_auth`)."""
    if adapter == "openai":
        return OpenAICodec()
    if adapter == "azure_openai":
        return AzureOpenAICodec()
    if adapter == "anthropic":
        return AnthropicCodec()
    if adapter == "gemini":
        return GeminiCodec()
    # The credential modules load botocore or google-auth (tens of MB per process): only
    # given credentials, which have loaded them already, are checked against them.
    if adapter == "bedrock":
        if credentials is None:
            return BedrockCodec()
        from adapters._bedrock_auth import AwsCredentials

        if not isinstance(credentials, AwsCredentials):
            raise TypeError("bedrock signs with AwsCredentials")
        return BedrockCodec(credentials)
    if adapter == "vertex":
        if credentials is None:
            return VertexCodec()
        from adapters._vertex_auth import GoogleCredentials

        if not isinstance(credentials, GoogleCredentials):
            raise TypeError("vertex authenticates with GoogleCredentials")
        return VertexCodec(credentials)
    raise ValueError(f"unknown adapter {adapter!r}; expected one of {', '.join(ADAPTER_NAMES)}")


def adapter_features(adapter: str, model: str = "") -> frozenset[Feature]:
    """The request features an adapter can honour (see adapters._features) for `model`:
    on Bedrock and Vertex they depend on the model's vendor; without a model, what
    every model on that adapter honours."""
    if model and adapter == "bedrock":
        return BedrockCodec.features | family_features(model)
    if model and adapter == "vertex":
        return vertex_features(model)
    return _FEATURES[adapter]


def client_codec(protocol: str) -> ClientCodec:
    if protocol == "openai":
        return OpenAIClientCodec()
    if protocol == "anthropic":
        return AnthropicClientCodec()
    if protocol == "responses":
        return ResponsesClientCodec()
    raise ValueError(
        f"unknown client protocol {protocol!r}; expected one of {', '.join(CLIENT_PROTOCOLS)}"
    )


# Anthropic has no embeddings API (it points to Voyage AI, which speaks OpenAI's).
EMBEDDING_ADAPTERS = ("openai", "azure_openai", "gemini")


def embedding_codec(adapter: str) -> EmbeddingProviderCodec:
    if adapter == "openai":
        return OpenAIEmbeddingsCodec()
    if adapter == "azure_openai":
        return AzureOpenAIEmbeddingsCodec()
    if adapter == "gemini":
        return GeminiEmbeddingsCodec()
    expected = ", ".join(EMBEDDING_ADAPTERS)
    raise ValueError(f"adapter {adapter!r} has no embeddings API; expected one of {expected}")


def embedding_max_inputs(adapter: str) -> int:
    """The most inputs one embeddings call through `adapter` may carry."""
    limits = {
        "openai": OpenAIEmbeddingsCodec.max_inputs,
        "azure_openai": AzureOpenAIEmbeddingsCodec.max_inputs,
        "gemini": GeminiEmbeddingsCodec.max_inputs,
    }
    return limits[adapter]


def embedding_client_codec() -> EmbeddingClientCodec:
    """The one inbound embeddings protocol: OpenAI's `POST /v1/embeddings`."""
    return OpenAIEmbeddingsClientCodec()

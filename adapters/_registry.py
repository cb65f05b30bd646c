"""Codec lookup by the names used in config (`adapter:`) and by the inbound routes."""

from __future__ import annotations

from adapters._anthropic import AnthropicCodec
from adapters._anthropic_client import AnthropicClientCodec
from adapters._base import ClientCodec, ProviderCodec
from adapters._bedrock import BedrockCodec
from adapters._bedrock_auth import AwsCredentials
from adapters._bedrock_body import family_features
from adapters._cloud_auth import CloudCredentials
from adapters._features import Feature
from adapters._gemini import GeminiCodec
from adapters._openai import AzureOpenAICodec, OpenAICodec
from adapters._openai_client import OpenAIClientCodec
from adapters._vertex import VertexCodec
from adapters._vertex import model_features as vertex_features
from adapters._vertex_auth import GoogleCredentials

ADAPTER_NAMES = ("openai", "azure_openai", "anthropic", "gemini", "bedrock", "vertex")
_FEATURES = {
    "openai": OpenAICodec.features,
    "azure_openai": AzureOpenAICodec.features,
    "anthropic": AnthropicCodec.features,
    "gemini": GeminiCodec.features,
    "bedrock": BedrockCodec.features,
    "vertex": VertexCodec.features,
}
CLIENT_PROTOCOLS = ("openai", "anthropic")


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
    if adapter == "bedrock":
        if credentials is not None and not isinstance(credentials, AwsCredentials):
            raise TypeError("bedrock signs with AwsCredentials")
        return BedrockCodec(credentials)
    if adapter == "vertex":
        if credentials is not None and not isinstance(credentials, GoogleCredentials):
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
    raise ValueError(f"unknown client protocol {protocol!r}; expected openai or anthropic")

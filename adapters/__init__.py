"""Provider wire protocols: codecs between the shared chat model and each HTTP API."""

import importlib
from typing import TYPE_CHECKING

# First, for its side effect: it checks the compiled modules before any is imported.
import adapters._native  # noqa: F401
from adapters._anthropic import AnthropicCodec
from adapters._anthropic_client import AnthropicClientCodec
from adapters._base import (
    RETRYABLE_KINDS,
    ClientCodec,
    EmbeddingClientCodec,
    EmbeddingProviderCodec,
    HttpRequest,
    InvalidRequest,
    ProviderCodec,
    ProviderError,
    ProviderErrorKind,
    ProviderTarget,
    StreamDecoder,
    StreamEncoder,
)
from adapters._bedrock import BedrockCodec
from adapters._bedrock_body import inference_geography
from adapters._cloud_auth import (
    CloudCredentials,
    CredentialsUnavailable,
    keep_fresh,
    load_all,
)
from adapters._embeddings import EmbeddingRequest, EmbeddingResponse, EncodingFormat
from adapters._embeddings_client import OpenAIEmbeddingsClientCodec
from adapters._embeddings_gemini import GeminiEmbeddingsCodec
from adapters._embeddings_openai import AzureOpenAIEmbeddingsCodec, OpenAIEmbeddingsCodec
from adapters._errors import ErrorType
from adapters._features import Feature, feature_label, feature_param, requirements
from adapters._gemini import GeminiCodec
from adapters._model import (
    CacheBreakpoint,
    ChatRequest,
    ChatResponse,
    FinishReason,
    ImagePart,
    LogprobsDelta,
    Message,
    Part,
    PromptCache,
    ReasoningEffort,
    ResponseFormat,
    Role,
    ServiceTier,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    TextPart,
    Thinking,
    TokenLogprob,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    ToolResult,
    TopLogprob,
    Usage,
    Verbosity,
)
from adapters._openai import AzureOpenAICodec, OpenAICodec
from adapters._openai_client import OpenAIClientCodec
from adapters._registry import (
    ADAPTER_NAMES,
    CLIENT_PROTOCOLS,
    EMBEDDING_ADAPTERS,
    adapter_features,
    client_codec,
    embedding_client_codec,
    embedding_codec,
    embedding_max_inputs,
    provider_codec,
)
from adapters._responses_client import ResponsesClientCodec
from adapters._sse import SSEDecoder, SSEEvent
from adapters._vertex import VertexCodec

if TYPE_CHECKING:
    from adapters._bedrock_auth import AwsCredentials
    from adapters._vertex_auth import GoogleCredentials

# Imported on first use, not with the package: botocore and google-auth take tens of MB
# per process, for clouds (Bedrock, Vertex AI) that most deployments do not configure.
_ON_USE = {
    "AwsCredentials": "adapters._bedrock_auth",
    "GoogleCredentials": "adapters._vertex_auth",
}


def __getattr__(name: str) -> object:
    module = _ON_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "ADAPTER_NAMES",
    "CLIENT_PROTOCOLS",
    "EMBEDDING_ADAPTERS",
    "RETRYABLE_KINDS",
    "AnthropicClientCodec",
    "AnthropicCodec",
    "AwsCredentials",
    "AzureOpenAICodec",
    "AzureOpenAIEmbeddingsCodec",
    "BedrockCodec",
    "CacheBreakpoint",
    "ChatRequest",
    "ChatResponse",
    "ClientCodec",
    "CloudCredentials",
    "CredentialsUnavailable",
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
    "GoogleCredentials",
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
    "VertexCodec",
    "adapter_features",
    "client_codec",
    "embedding_client_codec",
    "embedding_codec",
    "embedding_max_inputs",
    "feature_label",
    "feature_param",
    "inference_geography",
    "keep_fresh",
    "load_all",
    "provider_codec",
    "requirements",
]

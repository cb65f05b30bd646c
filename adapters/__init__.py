"""Provider wire protocols: codecs between the shared chat model and each HTTP API."""

# First, for its side effect: it checks the compiled modules before any is imported.
import adapters._native  # noqa: F401
from adapters._anthropic import AnthropicCodec
from adapters._anthropic_client import AnthropicClientCodec
from adapters._base import (
    RETRYABLE_KINDS,
    ClientCodec,
    HttpRequest,
    InvalidRequest,
    ProviderCodec,
    ProviderError,
    ProviderErrorKind,
    ProviderTarget,
    StreamDecoder,
    StreamEncoder,
)
from adapters._errors import ErrorType
from adapters._gemini import GeminiCodec
from adapters._model import (
    ChatRequest,
    ChatResponse,
    FinishReason,
    ImagePart,
    Message,
    Part,
    Role,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    ToolResult,
    Usage,
)
from adapters._openai import AzureOpenAICodec, OpenAICodec
from adapters._openai_client import OpenAIClientCodec
from adapters._registry import ADAPTER_NAMES, CLIENT_PROTOCOLS, client_codec, provider_codec
from adapters._sse import SSEDecoder, SSEEvent

__all__ = [
    "ADAPTER_NAMES",
    "CLIENT_PROTOCOLS",
    "RETRYABLE_KINDS",
    "AnthropicClientCodec",
    "AnthropicCodec",
    "AzureOpenAICodec",
    "ChatRequest",
    "ChatResponse",
    "ClientCodec",
    "ErrorType",
    "FinishReason",
    "GeminiCodec",
    "HttpRequest",
    "ImagePart",
    "InvalidRequest",
    "Message",
    "OpenAIClientCodec",
    "OpenAICodec",
    "Part",
    "ProviderCodec",
    "ProviderError",
    "ProviderErrorKind",
    "ProviderTarget",
    "Role",
    "SSEDecoder",
    "SSEEvent",
    "StreamDecoder",
    "StreamEncoder",
    "StreamEnd",
    "StreamEvent",
    "StreamStart",
    "TextDelta",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolResult",
    "Usage",
    "client_codec",
    "provider_codec",
]

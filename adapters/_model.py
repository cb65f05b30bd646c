"""The protocol-neutral chat model every wire codec translates to and from.

Inbound codecs (what the client speaks) parse into `ChatRequest`; provider codecs
encode a `ChatRequest` into the provider's HTTP call and decode its answer into a
`ChatResponse` or a sequence of `StreamEvent`s. Redaction and restoration walk these
objects, so every text that leaves the sidecar passes through one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"]


@dataclass(slots=True)
class TextPart:
    text: str


@dataclass(slots=True)
class ImagePart:
    """An image given by URL; `data:` URLs carry inline base64 bytes."""

    url: str
    media_type: str | None = None
    detail: Literal["auto", "low", "high"] | None = None  # OpenAI's resolution hint


Part = TextPart | ImagePart


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, exactly as the model produced it


@dataclass(slots=True)
class ToolResult:
    """The answer to a tool call, sent back by the client in a later turn."""

    tool_call_id: str
    content: list[Part]
    is_error: bool = False


@dataclass(slots=True)
class Message:
    role: Role
    content: list[Part] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_result: ToolResult | None = None  # set when role == "tool"
    name: str | None = None

    def with_parts(
        self, content: list[Part], tool_calls: list[ToolCall], tool_result: ToolResult | None
    ) -> Message:
        """A copy with its texts replaced; every other field kept.

        The `with_*` copies are built field by field: `dataclasses.replace` walks the
        fields on every call (0.8 µs for a message, 1.5-1.6 for a request, against 0.25
        and 0.4 compiled), and redaction copies a request and its messages on every
        request.
        """
        return Message(self.role, content, tool_calls, tool_result, self.name)


@dataclass(slots=True)
class Tool:
    name: str
    description: str | None
    parameters: dict[str, Any]  # JSON Schema


ToolChoice = Literal["auto", "none", "required"] | str  # a str outside the literals names a tool
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]
# "standard" is OpenAI's "default" and Anthropic's "standard_only".
ServiceTier = Literal["auto", "standard", "flex", "scale", "priority", "fast"]
Verbosity = Literal["low", "medium", "high"]


@dataclass(slots=True)
class ResponseFormat:
    """Structured output: any JSON object (`schema` None: OpenAI's JSON mode), or JSON
    matching `schema` (a JSON Schema)."""

    schema: dict[str, Any] | None = None
    name: str = "response"
    description: str | None = None
    strict: bool | None = None


@dataclass(slots=True)
class Thinking:
    """Anthropic's `thinking`: `budget` tokens when enabled; adaptive lets the model choose."""

    type: Literal["enabled", "disabled", "adaptive", "between_tools"]
    budget: int | None = None
    display: Literal["summarized", "omitted"] | None = None


@dataclass(frozen=True, slots=True)
class CacheBreakpoint:
    """Anthropic's `cache_control` marker, kept by position so that copies keep it.

    `where` is the request ("request": Anthropic's top-level automatic marker), a
    system text, a tool, or a message; `part` is the block within the message (its
    content parts, then its tool calls; 0 for a tool result).
    """

    where: Literal["request", "system", "tools", "messages"]
    index: int = 0
    part: int = 0
    ttl: Literal["5m", "1h"] | None = None


@dataclass(slots=True)
class PromptCache:
    """OpenAI's prompt-cache hints: the key is client text; the rest are enums."""

    key: str | None = None
    retention: Literal["in_memory", "24h"] | None = None
    ttl: Literal["30m"] | None = None
    mode: Literal["implicit", "explicit"] | None = None


@dataclass(slots=True)
class ChatRequest:
    """The request, protocol-neutral; README "Request fields" says where each field goes.

    Fields holding client text (messages, system, tools, stop, user, response_format,
    prediction, safety_identifier, prompt_cache.key) are redacted before they leave;
    `echo` never leaves for a provider; the others are numbers, flags and enums.
    """

    model: str  # the logical alias the client asked for
    messages: list[Message]
    system: list[str] = field(default_factory=list)  # system/developer prompts, in order
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = field(default_factory=list)
    stream: bool = False
    include_usage: bool = False  # OpenAI stream_options.include_usage
    user: str | None = None
    response_format: ResponseFormat | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, int] | None = None  # token id (digits) -> bias
    logprobs: bool = False
    top_logprobs: int | None = None
    top_k: int | None = None
    parallel_tool_calls: bool | None = None
    strict_tools: bool = False  # every tool's arguments must match its schema exactly
    service_tier: ServiceTier | None = None
    reasoning_effort: ReasoningEffort | None = None
    thinking: Thinking | None = None
    verbosity: Verbosity | None = None
    prediction: str | None = None  # OpenAI predicted output (a latency hint)
    safety_identifier: str | None = None
    prompt_cache: PromptCache | None = None
    cache: tuple[CacheBreakpoint, ...] = ()
    inference_geo: str | None = None  # Anthropic's inference region, e.g. "us"
    fast: bool = False  # Anthropic speed "fast"
    obfuscate: bool = False  # OpenAI stream_options.include_obfuscation
    # What the client protocol's answer repeats of the request (the Responses API's
    # instructions, tools, metadata...), JSON members its codec wrote from the client's
    # own values: sent back to the client only, never to a provider.
    echo: bytes = b""

    def with_texts(
        self,
        messages: list[Message],
        system: list[str],
        tools: list[Tool],
        stop: list[str],
        user: str | None,
    ) -> ChatRequest:
        """A copy with its texts replaced; every other field kept (see Message.with_parts)."""
        return ChatRequest(
            self.model,
            messages,
            system,
            tools,
            self.tool_choice,
            self.max_tokens,
            self.temperature,
            self.top_p,
            stop,
            self.stream,
            self.include_usage,
            user,
            self.response_format,
            self.seed,
            self.presence_penalty,
            self.frequency_penalty,
            self.logit_bias,
            self.logprobs,
            self.top_logprobs,
            self.top_k,
            self.parallel_tool_calls,
            self.strict_tools,
            self.service_tier,
            self.reasoning_effort,
            self.thinking,
            self.verbosity,
            self.prediction,
            self.safety_identifier,
            self.prompt_cache,
            self.cache,
            self.inference_geo,
            self.fast,
            self.obfuscate,
            self.echo,
        )


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(slots=True)
class TopLogprob:
    token: str
    logprob: float
    bytes: list[int] | None = None


@dataclass(slots=True)
class TokenLogprob:
    """One generated token with its log probability and the likeliest alternatives.

    Tokens are the provider's: where redaction put a placeholder in the prompt, the
    tokens of the answer may spell the placeholder rather than the restored value.
    """

    token: str
    logprob: float
    bytes: list[int] | None = None
    top: list[TopLogprob] = field(default_factory=list)


@dataclass(slots=True)
class ChatResponse:
    id: str
    model: str  # the provider's model name
    content: list[TextPart]
    tool_calls: list[ToolCall]
    finish_reason: FinishReason
    usage: Usage
    logprobs: list[TokenLogprob] | None = None  # only when the request asked for them

    def with_answer(self, content: list[TextPart], tool_calls: list[ToolCall]) -> ChatResponse:
        """A copy with its texts replaced; every other field kept (see Message.with_parts)."""
        return ChatResponse(
            self.id,
            self.model,
            content,
            tool_calls,
            self.finish_reason,
            self.usage,
            self.logprobs,
        )


# Stream events: the provider codecs emit these, the inbound codecs render them.


@dataclass(slots=True)
class StreamStart:
    id: str
    model: str
    usage: Usage | None = None  # Anthropic reports input tokens at the start


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class ToolCallDelta:
    index: int  # position of the tool call in the answer, 0-based
    id: str | None  # set on the first delta of a tool call
    name: str | None  # set on the first delta of a tool call
    arguments: str  # a fragment of the JSON arguments


@dataclass(slots=True)
class LogprobsDelta:
    """The log probabilities of the tokens streamed since the last one."""

    tokens: list[TokenLogprob]


@dataclass(slots=True)
class StreamEnd:
    finish_reason: FinishReason
    usage: Usage | None = None


StreamEvent = StreamStart | TextDelta | ToolCallDelta | LogprobsDelta | StreamEnd

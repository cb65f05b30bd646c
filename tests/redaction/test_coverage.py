"""Every field of the request model that can carry the client's text is redacted, or is
declared here not to be content. A field added later fails until it is one or the other.

The request is filled by its type annotations: a PII value in every string, every
number, every dict key and every `Any`, then redacted for every type, then walked again.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from dataclasses import fields, is_dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import pytest

from adapters import (
    AnthropicCodec,
    AzureOpenAICodec,
    CacheBreakpoint,
    ChatRequest,
    GeminiCodec,
    ImagePart,
    Message,
    OpenAICodec,
    ProviderCodec,
    ProviderTarget,
    ResponseFormat,
    TextPart,
    Thinking,
    Tool,
    ToolCall,
    ToolResult,
)
from adapters import _model as model
from policy_engine.redaction import ENTITY_TYPES, default_redactor

MODEL_SOURCE = Path(__file__).resolve().parents[2] / "adapters" / "_model.py"
EMAIL = "jane.roe@example.org"
CARD = 4111111111111111
CARD_DIGITS = str(CARD)

# Fields that reach no provider as the client wrote them, or cannot carry its text.
NOT_CONTENT: dict[tuple[type, str], str] = {
    (ChatRequest, "model"): "the client's alias: a provider is sent its configured model name",
    (ChatRequest, "max_tokens"): "a token budget, validated as a positive integer",
    (ChatRequest, "temperature"): "a sampling parameter, validated within its range",
    (ChatRequest, "top_p"): "a sampling parameter, validated within its range",
    (ChatRequest, "seed"): "an integer, validated",
    (ChatRequest, "presence_penalty"): "a sampling parameter, validated within its range",
    (ChatRequest, "frequency_penalty"): "a sampling parameter, validated within its range",
    (ChatRequest, "logit_bias"): "token ids (digits) and biases from -100 to 100, validated",
    (ChatRequest, "top_logprobs"): "a count, validated within its range",
    (ChatRequest, "top_k"): "a sampling parameter, validated as a positive integer",
    (ChatRequest, "inference_geo"): "a region code, validated as [a-z0-9_-]{1,32}",
    (ResponseFormat, "name"): "an identifier, validated as [A-Za-z0-9_-]{1,64}",
    (Thinking, "budget"): "a token budget, validated as a positive integer",
    (CacheBreakpoint, "index"): "a position in the request, set by the codec",
    (CacheBreakpoint, "part"): "a position in a message, set by the codec",
    (ChatRequest, "echo"): "no provider codec reads it: what a Responses answer repeats "
    "of the request back to its own client",
}


def _as_written() -> ModuleType:
    """The model's module run from its source: compiled with mypyc, its classes keep no
    type arguments in their annotations (`list`, not `list[Message]`)."""
    spec = importlib.util.spec_from_file_location("model_as_written", MODEL_SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # get_type_hints reads the module's globals there
    spec.loader.exec_module(module)
    return module


AS_WRITTEN = _as_written()


def fill(annotation: Any) -> Any:
    """A value of `annotation` with PII wherever the type lets client text in."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is str or annotation is Any:
        return EMAIL
    if annotation is bool:
        return True
    if annotation is bytes:
        return EMAIL.encode()
    if annotation is int:
        return CARD
    if annotation is float:
        return float(CARD)
    if origin is Literal:
        return args[0]
    if origin in (Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        return fill(next((a for a in present if a is str), present[0]))
    if origin is tuple:  # tuple[X, ...]
        return tuple(fill(list[args[0]]))  # type: ignore[valid-type]
    if origin is list:
        (item,) = args
        arms = get_args(item) if get_origin(item) in (Union, types.UnionType) else (item,)
        return [fill(arm) for arm in arms]
    if origin is dict:
        return {EMAIL: fill(args[1]), "n": CARD, "f": float(CARD), "items": [EMAIL, -CARD]}
    if is_dataclass(annotation) and isinstance(annotation, type):
        # Built as the real (maybe compiled) class, filled by the class as written.
        real = getattr(model, annotation.__name__)
        hints = get_type_hints(getattr(AS_WRITTEN, annotation.__name__))
        return real(**{f.name: fill(hints[f.name]) for f in fields(real)})
    raise TypeError(f"the guard cannot fill {annotation!r}: teach fill() this type")


def holds_pii(value: Any) -> bool:
    if isinstance(value, str):
        return EMAIL in value or CARD_DIGITS in value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return CARD_DIGITS in str(int(abs(value)))


def leaks(value: Any, path: str) -> list[str]:
    """Paths of `value` still holding PII, declared non-content fields aside."""
    if is_dataclass(value) and not isinstance(value, type):
        found = []
        for f in fields(value):
            if (type(value), f.name) not in NOT_CONTENT:
                found += leaks(getattr(value, f.name), f"{path}.{f.name}")
        return found
    if isinstance(value, dict):
        return [
            *(f"{path} key" for key in value if holds_pii(key)),
            *(p for key, item in value.items() for p in leaks(item, f"{path}[{key!r}]")),
        ]
    if isinstance(value, list | tuple):
        return [p for n, item in enumerate(value) for p in leaks(item, f"{path}[{n}]")]
    return [path] if holds_pii(value) else []


def filled_request() -> ChatRequest:
    request = fill(ChatRequest)
    assert isinstance(request, ChatRequest)
    return request


def test_the_filled_request_holds_pii_in_every_field_so_a_missed_one_would_show() -> None:
    assert len(leaks(filled_request(), "request")) > 20


def test_no_field_of_a_redacted_request_holds_pii_unless_declared_not_content() -> None:
    redacted = default_redactor().session().redact_request(filled_request(), ENTITY_TYPES)
    assert leaks(redacted, "request") == []


@pytest.mark.parametrize(("owner", "name"), list(NOT_CONTENT))
def test_each_declared_field_still_exists(owner: type, name: str) -> None:
    assert name in {f.name for f in fields(owner)}


# -- what each provider codec puts on the wire -----------------------------------------


def every_field_request() -> ChatRequest:
    """A request a provider would accept, with PII in every field a codec sends."""
    image = ImagePart(f"https://img.example/{EMAIL}/a.png?card={CARD}")
    return ChatRequest(
        "default",
        [
            Message("user", [TextPart(f"mail {EMAIL}"), image], name=EMAIL),
            Message(
                "assistant",
                [TextPart(f"card {CARD}")],
                [ToolCall(EMAIL, "lookup", f'{{"to": "{EMAIL}", "card": {CARD}}}')],
            ),
            Message("tool", tool_result=ToolResult(EMAIL, [TextPart(EMAIL), image])),
        ],
        system=[f"operator {EMAIL}"],
        tools=[Tool("lookup", EMAIL, {"properties": {EMAIL: {"default": CARD}}})],
        tool_choice="lookup",
        stop=[EMAIL],
        user=EMAIL,
    )


CODECS: list[ProviderCodec] = [OpenAICodec(), AzureOpenAICodec(), AnthropicCodec(), GeminiCodec()]


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: type(c).__name__)
def test_a_provider_codec_sends_no_value_of_a_redacted_request(codec: ProviderCodec) -> None:
    redacted = default_redactor().session().redact_request(every_field_request(), ENTITY_TYPES)
    target = ProviderTarget("https://provider.example", "model", "key", {"api_version": "1"})
    http = codec.encode_request(redacted, target)
    sent = http.url.encode() + b"".join(f"{k}{v}".encode() for k, v in http.headers.items())
    sent += http.body
    assert EMAIL.encode() not in sent and CARD_DIGITS.encode() not in sent

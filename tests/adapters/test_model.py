"""The model's copies with new texts keep every other field, including fields added later."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import Any

import pytest

from adapters import ChatRequest, ChatResponse, Message, TextPart, Tool, ToolCall, Usage
from adapters._model import (
    CacheBreakpoint,
    PromptCache,
    ResponseFormat,
    Thinking,
    TokenLogprob,
    ToolResult,
)

CALL = ToolCall("call_1", "lookup", "{}")
MESSAGE = Message("tool", [TextPart("a")], [CALL], ToolResult("call_1", [TextPart("r")]), "bot")
REQUEST = ChatRequest(
    "default", [MESSAGE], ["be brief"], [Tool("lookup", "finds", {})], "auto", 5, 0.5, 0.9,
    ["END"], True, True, "user-1", ResponseFormat({"type": "object"}), 7, 0.1, 0.2, {"50256": -100},
    True, 3, 40, False, True, "flex", "low", Thinking("enabled", 2048), "high", "predicted",
    "safety-1", PromptCache("key-1"), (CacheBreakpoint("system"),), "us", True, True,
    b'"instructions":"be brief"',
)  # fmt: skip
RESPONSE = ChatResponse(
    "id-1", "gpt", [TextPart("a")], [CALL], "stop", Usage(1, 2), [TokenLogprob("a", -0.1)]
)

Copy = Callable[[Any, dict[str, Any]], Any]
CASES: list[tuple[Any, Copy, set[str]]] = [
    (
        MESSAGE,
        lambda m, new: m.with_parts(new["content"], new["tool_calls"], new["tool_result"]),
        {"content", "tool_calls", "tool_result"},
    ),
    (
        REQUEST,
        lambda r, new: r.with_texts(
            new["messages"], new["system"], new["tools"], new["stop"], new["user"]
        ),
        {"messages", "system", "tools", "stop", "user"},
    ),
    (
        RESPONSE,
        lambda r, new: r.with_answer(new["content"], new["tool_calls"]),
        {"content", "tool_calls"},
    ),
]
IDS = ["Message.with_parts", "ChatRequest.with_texts", "ChatResponse.with_answer"]


def default(f: Any) -> Any:
    if f.default is not MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not MISSING else MISSING


@pytest.mark.parametrize("original", [original for original, _, _ in CASES], ids=IDS)
def test_the_sample_sets_every_field_so_a_dropped_field_would_show(original: Any) -> None:
    assert [f.name for f in fields(original) if getattr(original, f.name) == default(f)] == []


@pytest.mark.parametrize(("original", "copy", "replaced"), CASES, ids=IDS)
def test_a_copy_with_new_texts_keeps_every_other_field(
    original: Any, copy: Copy, replaced: set[str]
) -> None:
    new: dict[str, Any] = {
        name: None if name in ("user", "tool_result") else [] for name in replaced
    }
    result = copy(original, new)
    for f in fields(original):
        expected = new[f.name] if f.name in replaced else getattr(original, f.name)
        assert getattr(result, f.name) is expected, f.name

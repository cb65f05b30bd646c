"""Reading the `input` of an OpenAI Responses request into the chat model's messages.

A string is one user message. A list holds items: messages (any role; system and
developer texts are hoisted into `ChatRequest.system`, as the chat route does),
`function_call` items (the model's earlier tool calls: consecutive ones join the
assistant message before them) and `function_call_output` items (their results).
Items a client copies back from an earlier answer (`id`, `status`, `annotations`,
`logprobs`) describe that answer, not the request, and are not forwarded. Items that
point at state kept at OpenAI (`item_reference`, a `file_id`) or that the sidecar's
answers never carry (reasoning, built-in tool calls) are refused with the field named.
"""

from __future__ import annotations

from typing import Any, Literal

from adapters import _validate as v
from adapters._base import InvalidRequest
from adapters._model import ImagePart, Message, Part, TextPart, ToolCall, ToolResult

_DETAILS: tuple[Literal["auto", "low", "high"], ...] = ("auto", "low", "high")
_STATUSES = ("in_progress", "completed", "incomplete")
_MESSAGE_FIELDS = ("type", "role", "content", "id", "status", "phase")
_CALL_FIELDS = ("type", "id", "call_id", "name", "arguments", "status", "namespace", "caller")
_OUTPUT_FIELDS = ("type", "id", "call_id", "output", "status", "name", "namespace", "caller")
_STATELESS = (
    "the sidecar stores nothing at OpenAI and may answer from another provider; "
    "send the item itself"
)
_ITEM_REASONS = {
    "item_reference": f"item references point at items stored at OpenAI: {_STATELESS}",
    "reasoning": "reasoning items are not supported: the sidecar's answers carry none, so "
    "there is nothing to send back",
    "compaction": f"compaction items are stored at OpenAI: {_STATELESS}",
}
_NOT_SERVED = (
    "only message, function_call and function_call_output items are supported (built-in "
    "tool calls run at OpenAI and are not served)"
)
Kind = Literal["user", "system", "assistant", "tool"]


def _refuse_set(item: dict[str, Any], where: str, fields: tuple[str, ...]) -> None:
    for field in fields:
        if item.get(field) is not None:
            raise InvalidRequest(f"{where}.{field} is not supported", param=f"{where}.{field}")


def _text_part(part: dict[str, Any], where: str, key: str, fields: tuple[str, ...]) -> TextPart:
    v.known(part, where, fields)
    _refuse_set(part, where, ("prompt_cache_breakpoint",))
    return TextPart(v.string(part.get(key), f"{where}.{key}"))


def _image_part(part: dict[str, Any], where: str) -> ImagePart:
    v.known(part, where, ("type", "image_url", "file_id", "detail", "prompt_cache_breakpoint"))
    _refuse_set(part, where, ("prompt_cache_breakpoint",))
    if part.get("file_id") is not None:
        raise InvalidRequest(
            f"{where}.file_id names a file stored at OpenAI, which other providers cannot "
            "read; send image_url (a URL or a data: URL)",
            param=f"{where}.file_id",
        )
    detail = v.choice(part.get("detail"), f"{where}.detail", _DETAILS)
    return ImagePart(v.string(part.get("image_url"), f"{where}.image_url"), detail=detail)


def content(value: Any, param: str, kind: Kind) -> list[Part]:
    """A message's content (or a tool output): a string, or a list of typed parts."""
    if isinstance(value, str):
        return [TextPart(value)]
    parts: list[Part] = []
    for n, item in enumerate(v.array(value, param)):
        where = f"{param}[{n}]"
        part = v.obj(item, where)
        type_ = part.get("type")
        if type_ == "input_text":
            parts.append(
                _text_part(part, where, "text", ("type", "text", "prompt_cache_breakpoint"))
            )
        elif type_ == "output_text" and kind == "assistant":
            # An earlier answer's text: its annotations and logprobs describe that answer.
            fields = ("type", "text", "annotations", "logprobs")
            parts.append(_text_part(part, where, "text", fields))
        elif type_ == "refusal" and kind == "assistant":
            parts.append(_text_part(part, where, "refusal", ("type", "refusal")))
        elif type_ == "input_image" and kind == "user":
            parts.append(_image_part(part, where))
        elif type_ in ("input_file", "input_audio"):
            raise InvalidRequest(
                f"{where}: file and audio inputs are not supported", f"{where}.type"
            )
        else:
            raise InvalidRequest(
                f"{where}.type is not a supported content part type here", param=f"{where}.type"
            )
    return parts


def _message(item: dict[str, Any], where: str, system: list[str], messages: list[Message]) -> None:
    v.known(item, where, _MESSAGE_FIELDS)
    # `phase` labels an assistant turn for OpenAI's own models; no other provider reads it.
    _refuse_set(item, where, ("phase",))
    v.choice(item.get("status"), f"{where}.status", _STATUSES)
    role = item.get("role")
    where_content = f"{where}.content"
    if role in ("system", "developer"):
        parts = content(item.get("content"), where_content, "system")
        # Part by part, not joined: a value ending one part must not run on into the
        # next part's words, where redaction would no longer read it as a value.
        system.extend(p.text for p in parts if isinstance(p, TextPart))
    elif role == "user":
        messages.append(Message("user", content(item.get("content"), where_content, "user")))
    elif role == "assistant":
        messages.append(
            Message("assistant", content(item.get("content"), where_content, "assistant"))
        )
    else:
        # Never echo the value: an error message must hold no request content.
        raise InvalidRequest(
            f"{where}.role must be user, assistant, system or developer", param=f"{where}.role"
        )


def _function_call(item: dict[str, Any], where: str) -> ToolCall:
    v.known(item, where, _CALL_FIELDS)
    _refuse_set(item, where, ("namespace", "caller"))
    v.choice(item.get("status"), f"{where}.status", _STATUSES)
    return ToolCall(
        id=v.string(item.get("call_id"), f"{where}.call_id"),
        name=v.string(item.get("name"), f"{where}.name"),
        arguments=v.string(item.get("arguments"), f"{where}.arguments"),
    )


def _function_output(item: dict[str, Any], where: str) -> Message:
    v.known(item, where, _OUTPUT_FIELDS)
    _refuse_set(item, where, ("namespace", "caller"))
    v.choice(item.get("status"), f"{where}.status", _STATUSES)
    v.optional_string(item.get("name"), f"{where}.name")
    call_id = v.string(item.get("call_id"), f"{where}.call_id")
    parts = content(item.get("output"), f"{where}.output", "tool")
    return Message("tool", tool_result=ToolResult(call_id, parts))


def read_input(value: Any) -> tuple[list[str], list[Message]]:
    """The system texts found in `input` (in order) and its other turns as messages."""
    if value is None:
        raise InvalidRequest(
            "input is required: the sidecar keeps no conversation, so each request carries it",
            param="input",
        )
    if isinstance(value, str):
        return [], [Message("user", [TextPart(value)])]
    system: list[str] = []
    messages: list[Message] = []
    for n, entry in enumerate(v.array(value, "input", non_empty=True)):
        where = f"input[{n}]"
        item = v.obj(entry, where)
        type_ = item.get("type")
        if type_ is None and "role" not in item and "id" in item:
            type_ = "item_reference"  # its `type` may be left out
        if type_ in (None, "message"):
            _message(item, where, system, messages)
        elif type_ == "function_call":
            call = _function_call(item, where)
            last = messages[-1] if messages else None
            if last is not None and last.role == "assistant":
                last.tool_calls.append(call)  # parallel calls, or text and then calls
            else:
                messages.append(Message("assistant", tool_calls=[call]))
        elif type_ == "function_call_output":
            messages.append(_function_output(item, where))
        else:
            reason = (
                _ITEM_REASONS.get(type_, _NOT_SERVED) if isinstance(type_, str) else _NOT_SERVED
            )
            raise InvalidRequest(f"{where}.type: {reason}", param=f"{where}.type")
    return system, messages

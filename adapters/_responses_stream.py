"""The OpenAI Responses stream as the sidecar sends it: typed SSE events, each with its
`sequence_number`, from the shared model's stream events.

`response.created` and `response.in_progress` open it; text goes into a message item
(`output_item.added`, `content_part.added`, `output_text.delta`...), each tool call into
a function_call item (`output_item.added`, `function_call_arguments.delta`...); at the
end every open item is finished (`output_text.done`, `function_call_arguments.done`,
`output_item.done`) and `response.completed` (or `response.incomplete`, cut short by
the token limit or a content filter) carries the whole Response. A failure after the
first event is an `error` event, then `response.failed`: never a clean finish.

The protocol repeats the whole answer at the end, so the encoder keeps its text and
arguments until then (as much memory as the answer itself).
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Literal

import orjson

from adapters import _responses_body as body
from adapters._model import (
    LogprobsDelta,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    TokenLogprob,
    ToolCallDelta,
    Usage,
)

_PAD_TO = 64  # obfuscated delta events are padded to a multiple of this many bytes


class ResponsesStreamEncoder:
    def __init__(self, request_id: str, model: str, echo: bytes, obfuscate: bool) -> None:
        self._request_id = request_id
        self._model = model
        self._echo = echo
        self._obfuscate = obfuscate
        self._created = int(time.time())
        self._sequence = 0
        self._started = False
        self._input_tokens = 0
        self._items: list[dict[str, Any]] = []  # output items, by output index
        self._open: list[int] = []  # the output indexes not finished yet, in order
        self._message: int | None = None  # the message item text goes into, while open
        self._calls: dict[int, int] = {}  # a tool call's index -> its output index
        self._chunks: dict[int, list[str]] = {}  # text or arguments, by output index
        self._tokens: dict[int, list[TokenLogprob]] = {}
        # Where the stream stood before its end: the pipeline holds the end back until the
        # outcome record is durable, and sends an error in its place when it is not.
        self._before_end: tuple[int, int, list[int]] | None = None

    # -- events --------------------------------------------------------------------

    def _event(self, kind: str, fields: dict[str, Any], pad: bool = False) -> bytes:
        data: dict[str, Any] = {"type": kind, **fields, "sequence_number": self._sequence}
        self._sequence += 1
        if pad and self._obfuscate:
            data["obfuscation"] = ""
            size = len(orjson.dumps(data))
            data["obfuscation"] = secrets.token_urlsafe(_PAD_TO)[: -size % _PAD_TO]
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"

    def _response(
        self,
        status: body.Status,
        usage: Usage | None = None,
        finish: StreamEnd | None = None,
        error: dict[str, str] | None = None,
    ) -> orjson.Fragment:
        return body.response_object(
            self._request_id,
            self._created,
            self._model,
            status,
            self._items if status != "in_progress" else [],
            self._echo,
            usage,
            finish=None if finish is None else finish.finish_reason,
            error=error,
        )

    def _start(self, event: StreamEvent | None) -> bytes:
        self._started = True
        if isinstance(event, StreamStart) and event.usage is not None:
            self._input_tokens = event.usage.input_tokens
        snapshot = self._response("in_progress")
        return self._event("response.created", {"response": snapshot}) + self._event(
            "response.in_progress", {"response": snapshot}
        )

    def encode(self, event: StreamEvent) -> bytes:
        out = b"" if self._started else self._start(event)
        if isinstance(event, TextDelta):
            if event.text:
                out += self._text(event.text, [])
        elif isinstance(event, LogprobsDelta):
            out += self._text("", event.tokens)
        elif isinstance(event, ToolCallDelta):
            out += self._call(event)
        elif isinstance(event, StreamEnd):
            out += self._end(event)
        return out

    def _open_message(self) -> bytes:
        out = self._add(body.message_item(self._id("msg"), "in_progress", []))
        self._message = index = len(self._items) - 1
        fields = {
            "item_id": self._items[index]["id"],
            "output_index": index,
            "content_index": 0,
            "part": body.text_part("", []),
        }
        return out + self._event("response.content_part.added", fields)

    def _text(self, text: str, tokens: list[TokenLogprob]) -> bytes:
        out = b"" if self._message is not None else self._open_message()
        index = self._message
        assert index is not None
        self._chunks[index].append(text)
        self._tokens.setdefault(index, []).extend(tokens)
        fields = {
            "item_id": self._items[index]["id"],
            "output_index": index,
            "content_index": 0,
            "delta": text,
            "logprobs": body.delta_logprobs(tokens),
        }
        return out + self._event("response.output_text.delta", fields, pad=True)

    def _call(self, event: ToolCallDelta) -> bytes:
        out = b""
        index = self._calls.get(event.index)
        if index is None:
            out = self._finish_message("completed")
            call = body.call_id(self._request_id, event.index)
            out += self._add(
                body.call_item(self._id("fc"), "in_progress", call, event.name or "", "")
            )
            index = self._calls[event.index] = len(self._items) - 1
        if not event.arguments:
            return out
        self._chunks[index].append(event.arguments)
        fields = {
            "item_id": self._items[index]["id"],
            "output_index": index,
            "delta": event.arguments,
        }
        return out + self._event("response.function_call_arguments.delta", fields, pad=True)

    def _end(self, event: StreamEnd) -> bytes:
        self._before_end = (self._sequence, len(self._items), list(self._open))
        status = body.status_of(event.finish_reason)
        out = b"" if self._items else self._open_message()  # an empty answer: an empty message
        for index in list(self._open):
            out += self._finish(index, status)
        usage = event.usage or Usage(self._input_tokens, 0)
        if usage.input_tokens == 0 and self._input_tokens:
            usage = Usage(self._input_tokens, usage.output_tokens)  # reported at the start
        kind = "response.completed" if status == "completed" else "response.incomplete"
        return out + self._event(kind, {"response": self._response(status, usage, event)})

    def encode_error(self, status: int, error_type: str, message: str) -> bytes:
        out = b"" if self._started else self._start(None)
        unfinished = self._open
        if self._before_end is not None:  # the end was never sent: go on from before it
            self._sequence, announced, unfinished = self._before_end
            del self._items[announced:]
        out += self._event("error", {"code": error_type, "message": message, "param": None})
        # What was streamed stays in the failed Response, each unfinished item incomplete.
        for index in unfinished:
            self._items[index] = self._finished(index, "incomplete")
        failed = self._response("failed", error=body.failure(error_type, message))
        return out + self._event("response.failed", {"response": failed})

    # -- items ---------------------------------------------------------------------

    def _id(self, kind: Literal["msg", "fc"]) -> str:
        return body.item_id(kind, self._request_id, len(self._items))

    def _add(self, item: dict[str, Any]) -> bytes:
        index = len(self._items)
        self._items.append(item)
        self._open.append(index)
        self._chunks[index] = []
        return self._event("response.output_item.added", {"output_index": index, "item": item})

    def _finished(self, index: int, status: body.Status) -> dict[str, Any]:
        item = self._items[index]
        joined = "".join(self._chunks[index])
        if item["type"] == "message":
            part = body.text_part(joined, body.logprobs(self._tokens.get(index, [])))
            return body.message_item(item["id"], status, [part])
        return body.call_item(item["id"], status, item["call_id"], item["name"], joined)

    def _finish_message(self, status: body.Status) -> bytes:
        if self._message is None:
            return b""
        return self._finish(self._message, status)

    def _finish(self, index: int, status: body.Status) -> bytes:
        self._open.remove(index)
        if index == self._message:
            self._message = None
        item = self._items[index] = self._finished(index, status)
        if item["type"] == "message":
            part = item["content"][0]
            where = {"item_id": item["id"], "output_index": index, "content_index": 0}
            tokens = body.delta_logprobs(self._tokens.get(index, []))
            out = self._event(
                "response.output_text.done", where | {"text": part["text"], "logprobs": tokens}
            )
            out += self._event("response.content_part.done", where | {"part": part})
        else:
            fields = {
                "item_id": item["id"],
                "output_index": index,
                "name": item["name"],
                "arguments": item["arguments"],
            }
            out = self._event("response.function_call_arguments.done", fields)
        return out + self._event("response.output_item.done", {"output_index": index, "item": item})

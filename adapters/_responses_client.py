"""The OpenAI Responses protocol as the sidecar speaks it to its clients: the request is
read in `_responses_request`, the streamed answer written in `_responses_stream`, the
plain answer here. Errors take OpenAI's error shape, as on the chat route."""

from __future__ import annotations

import time
from typing import Any

import orjson

from adapters import _responses_body as body
from adapters._model import ChatRequest, ChatResponse
from adapters._openai_client import error_body
from adapters._responses_request import decode_request
from adapters._responses_stream import ResponsesStreamEncoder


class ResponsesClientCodec:
    def decode_request(self, body: Any) -> ChatRequest:
        return decode_request(body)

    def encode_response(
        self, response: ChatResponse, request: ChatRequest, request_id: str, model: str
    ) -> bytes:
        status = body.status_of(response.finish_reason)
        output: list[dict[str, Any]] = []
        text = "".join(p.text for p in response.content)
        if text or not response.tool_calls:
            tokens = body.logprobs(response.logprobs or [])
            identity = body.item_id("msg", request_id, 0)
            output.append(body.message_item(identity, status, [body.text_part(text, tokens)]))
        for n, call in enumerate(response.tool_calls):
            identity = body.item_id("fc", request_id, len(output))
            call_id = body.call_id(request_id, n)
            output.append(body.call_item(identity, status, call_id, call.name, call.arguments))
        answer = body.response_object(
            request_id,
            int(time.time()),
            model,
            status,
            output,
            request.echo,
            response.usage,
            finish=response.finish_reason,
        )
        return orjson.dumps(answer)

    def stream_encoder(
        self, request: ChatRequest, request_id: str, model: str
    ) -> ResponsesStreamEncoder:
        return ResponsesStreamEncoder(request_id, model, request.echo, request.obfuscate)

    def encode_error(
        self, status: int, error_type: str, message: str, param: str | None = None
    ) -> bytes:
        return orjson.dumps(error_body(error_type, message, param))

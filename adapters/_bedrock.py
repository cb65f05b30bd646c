"""Amazon Bedrock Converse API (`/model/{id}/converse`, `/converse-stream`): the call,
signed with SigV4 (or a Bedrock API key), the answer and the errors (the request
body is built in `_bedrock_body`, the event stream read in `_bedrock_stream`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

import orjson

from adapters import _validate as v
from adapters._base import HttpRequest, ProviderError, ProviderTarget
from adapters._bedrock_body import encode_body
from adapters._bedrock_wire import STOP, error_code, error_kind, usage
from adapters._features import Feature
from adapters._http import body_text, load_object, malformed, retry_after
from adapters._model import ChatRequest, ChatResponse, TextPart, ToolCall

if TYPE_CHECKING:
    from adapters._bedrock_auth import AwsCredentials
    from adapters._bedrock_stream import BedrockStreamDecoder

_STREAM_ACCEPT = "application/vnd.amazon.eventstream"


def _tool_use(value: Any, where: str) -> ToolCall:
    block = v.answer_object(value, where)
    call_id = v.answer_id(block.get("toolUseId"), f"{where}.toolUseId")
    name = v.answer_id(block.get("name"), f"{where}.name")
    if not call_id or not name:
        raise malformed(f"{where} lacks its toolUseId or name")
    return ToolCall(call_id, name, v.arguments_json(block.get("input"), f"{where}.input"))


class BedrockCodec:
    # What every model on Bedrock honours beyond plain chat: nothing. What a model
    # family adds (Anthropic's top_k, thinking, ...) is `_bedrock_body.family_features`.
    features: ClassVar[frozenset[Feature]] = frozenset()

    def __init__(self, credentials: AwsCredentials | None = None) -> None:
        # Imported with the first Bedrock codec, not with the package: it loads botocore
        # (tens of MB per process with its credentials), for a cloud most configs omit.
        from adapters._bedrock_stream import BedrockStreamDecoder

        self._credentials = credentials
        self._stream_decoder = BedrockStreamDecoder

    def encode_request(self, request: ChatRequest, target: ProviderTarget) -> HttpRequest:
        body = orjson.dumps(encode_body(request))
        # The model id is a path label: `:` and `/` in it (profile ids, ARNs) are
        # percent-encoded, as the AWS SDKs send them and SigV4 signs them.
        operation = "converse-stream" if request.stream else "converse"
        url = f"{target.base_url}/model/{quote(target.model, safe='')}/{operation}"
        headers = {
            "content-type": "application/json",
            "accept": _STREAM_ACCEPT if request.stream else "application/json",
        }
        if target.api_key:
            # A Bedrock API key is a bearer token, in place of SigV4.
            headers["authorization"] = f"Bearer {target.api_key}"
        elif self._credentials is not None:
            headers = self._credentials.sign(url, headers, body)
        return HttpRequest("POST", url, headers, body)

    def decode_response(self, body: bytes) -> ChatResponse:
        obj = load_object(body, "Converse response")
        output = v.answer_object(obj.get("output"), "output")
        message = output.get("message")
        if not isinstance(message, dict) or not isinstance(message.get("content"), list):
            raise malformed("response has no output.message.content")
        texts: list[TextPart] = []
        calls: list[ToolCall] = []
        for n, block in enumerate(message["content"]):
            where = f"output.message.content[{n}]"
            if not isinstance(block, dict):
                raise malformed(f"{where} is not an object")
            if "text" in block:
                texts.append(TextPart(v.answer_text(block["text"], f"{where}.text")))
            elif "toolUse" in block:
                calls.append(_tool_use(block["toolUse"], f"{where}.toolUse"))
            # reasoningContent is not relayed (as Anthropic's thinking blocks are not);
            # block kinds added later carry nothing the shared model holds.
        finish = v.finish_reason(obj.get("stopReason"), STOP, "stop", "stopReason")
        return ChatResponse(
            id="",
            model="",
            content=texts,
            tool_calls=calls,
            finish_reason=finish or "stop",
            usage=usage(obj.get("usage")),
        )

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        try:
            obj = load_object(body, "error body")
        except ProviderError:
            obj = {"message": body_text(body)}
        code = error_code(headers, obj)
        message = v.error_text(obj.get("message")) or v.error_text(obj.get("Message"))
        return ProviderError(
            error_kind(code, status, message),
            self._scrubbed(message),
            status=status,
            retry_after=retry_after(headers),
            provider_code=code or None,
        )

    def _scrubbed(self, message: str) -> str:
        # The router scrubs configured keys; the session token is not one of them.
        if self._credentials is not None:
            for secret in self._credentials.secrets():
                message = message.replace(secret, "[redacted]")
        return message

    def stream_decoder(self) -> BedrockStreamDecoder:
        return self._stream_decoder()

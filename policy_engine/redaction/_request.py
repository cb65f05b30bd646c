"""What leaves: every string and number of a request that a provider codec can send.

`RequestWalk` copies a `ChatRequest` with each of them passed through a redaction: texts,
names, ids, image URLs, tool names, schemas and arguments (parsed and written again, so
what leaves is what was read). Texts an adapter puts side by side (a message's parts,
consecutive turns of one role, the system prompts) go through together, so a value
split over two of them can be found. The session supplies the redaction; this module
only knows the model.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

from adapters._model import ChatRequest, ImagePart, Message, Part, TextPart, Tool, ToolCall

# Base64 image data is sent as it came when it is what it says: the image's bytes are no
# text a detector can read. Anything else in a `data:` URL is read as text.
_IMAGE_DATA = re.compile(r"data:image/(png|jpeg|gif|webp);base64,")
# Each kind's file signature: a RIFF file is a WebP image when bytes 8-11 say so.
_SIGNATURES = {
    "png": re.compile(rb"\x89PNG\r\n\x1a\n"),
    "jpeg": re.compile(rb"\xff\xd8\xff"),
    "gif": re.compile(rb"GIF8[79]a"),
    "webp": re.compile(rb"RIFF....WEBP", re.DOTALL),
}
_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_TOOL_CHOICES = frozenset({"auto", "none", "required"})
# Tool results travel in the user's turn (Anthropic's tool_result blocks, Gemini's
# functionResponse parts).
_TURNS = {"assistant": "assistant", "system": "system"}


class RequestWalk:
    """One copy of a request: `text` redacts one string, `run` texts a provider reads
    one after the other (returning as many, a text a value took whole left empty);
    `images` remembers which `data:` URLs hold an image, across walks of a request."""

    def __init__(
        self,
        text: Callable[[str], str],
        run: Callable[[list[str]], list[str]],
        images: dict[str, bool],
    ) -> None:
        self._text = text
        self._run = run
        self._images = images

    def request(self, request: ChatRequest) -> ChatRequest:
        text = self._text
        redacted = request.with_texts(
            messages=self._messages(request.messages),
            system=_kept(request.system, self._run(request.system)) if request.system else [],
            tools=[self._tool(t) for t in request.tools],
            stop=[text(s) for s in request.stop],
            user=None if request.user is None else text(request.user),
        )
        choice = request.tool_choice
        if choice is not None and choice not in _TOOL_CHOICES:
            named = text(choice)  # a tool's name
            if named != choice:
                redacted = replace(redacted, tool_choice=named)
        return self._options(request, redacted)

    def _options(self, request: ChatRequest, redacted: ChatRequest) -> ChatRequest:
        """The texts outside the conversation, each copied only when present (rarely)."""
        text = self._text
        fmt = request.response_format
        if fmt is not None and (fmt.schema is not None or fmt.description is not None):
            # The schema's name is an identifier ([A-Za-z0-9_-]{1,64}), checked on the way in.
            schema = None if fmt.schema is None else self._json(fmt.schema)
            description = None if fmt.description is None else text(fmt.description)
            redacted = replace(
                redacted, response_format=replace(fmt, schema=schema, description=description)
            )
        if request.prediction is not None:
            redacted = replace(redacted, prediction=text(request.prediction))
        if request.safety_identifier is not None:
            redacted = replace(redacted, safety_identifier=text(request.safety_identifier))
        cache = request.prompt_cache
        if cache is not None and cache.key is not None:
            redacted = replace(redacted, prompt_cache=replace(cache, key=text(cache.key)))
        return redacted

    def _messages(self, messages: list[Message]) -> list[Message]:
        """Consecutive messages of one turn go through together: Anthropic and Gemini
        send them as one turn's adjacent blocks."""
        out: list[Message] = []
        start = 0
        while start < len(messages):
            turn = _TURNS.get(messages[start].role, "user")
            end = start + 1
            while end < len(messages) and _TURNS.get(messages[end].role, "user") == turn:
                end += 1
            group = messages[start:end]
            redacted = iter(self._run(_texts(group)))
            for message in group:
                out.append(self._message(message, redacted))
            start = end
        return out

    def _message(self, message: Message, redacted: Iterator[str]) -> Message:
        result = message.tool_result
        if result is not None:  # its texts come first in _texts
            result = replace(
                result,
                tool_call_id=self._text(result.tool_call_id),
                content=self._parts(result.content, redacted),
            )
        copy = message.with_parts(
            content=self._parts(message.content, redacted),
            tool_calls=[self._call(c) for c in message.tool_calls],
            tool_result=result,
        )
        if message.name is not None:
            name = self._text(message.name)
            if name != message.name:
                copy = replace(copy, name=name)
        return copy

    def _parts(self, parts: list[Part], redacted: Iterator[str]) -> list[Part]:
        out: list[Part] = []
        for part in parts:
            if isinstance(part, TextPart):
                text = next(redacted)
                if text == part.text:
                    out.append(part)
                elif text:  # a part a split value took whole is dropped
                    out.append(TextPart(text))
            else:
                out.append(self._image(part))
        return out

    def _image(self, part: ImagePart) -> ImagePart:
        url = self._url(part.url)
        media_type = None if part.media_type is None else self._text(part.media_type)
        if url == part.url and media_type == part.media_type:
            return part
        return replace(part, url=url, media_type=media_type)

    def _url(self, url: str) -> str:
        head = _IMAGE_DATA.match(url)
        if head is not None and self._is_image(url, head):
            return url
        if "%" in url:
            # A value in a URL is usually percent-escaped ("jane%40example.org"): when the
            # unescaped URL holds one, it leaves unescaped, with the value replaced.
            unescaped = unquote(url)
            redacted = self._text(unescaped)
            if redacted != unescaped:
                return redacted
        return self._text(url)

    def _is_image(self, url: str, head: re.Match[str]) -> bool:
        known = self._images.get(url)
        if known is None:
            known = self._images[url] = _is_image_data(url[head.end() :], head.group(1))
        return known

    def _call(self, call: ToolCall) -> ToolCall:
        return replace(
            call,
            id=self._text(call.id),
            name=self._text(call.name),
            arguments=self._arguments(call.arguments),
        )

    def _tool(self, tool: Tool) -> Tool:
        return replace(
            tool,
            name=self._text(tool.name),
            description=None if tool.description is None else self._text(tool.description),
            parameters={self._text(k): self._json(v) for k, v in tool.parameters.items()},
        )

    def _arguments(self, text: str) -> str:
        """Tool-call arguments leave parsed and written again, never as the client wrote
        them: what the text holds beyond its parsed value (a duplicate key's first
        value) is dropped. Unparsable arguments are read as plain text."""
        try:
            return json.dumps(self._json(json.loads(text)), ensure_ascii=False)
        except (ValueError, RecursionError):
            return self._text(text)

    def _json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, dict):
            return {self._text(k): self._json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._json(v) for v in value]
        if isinstance(value, bool) or not isinstance(value, int | float):
            return value
        # A card or phone number sent as a JSON number leaves as a placeholder string.
        # Read without its sign (a detector takes "-4111..." for part of a longer token),
        # and a float also by its integral digits ("4111111111111111.0").
        magnitude = abs(value)
        forms = [str(magnitude)]
        if isinstance(magnitude, float) and magnitude.is_integer():
            forms.append(str(int(magnitude)))
        for form in forms:
            redacted = self._text(form)
            if redacted != form:
                return "-" + redacted if value < 0 else redacted
        return value


def _kept(originals: list[str], redacted: list[str]) -> list[str]:
    """The redacted texts, less those a value split over them took whole."""
    return [
        text for text, original in zip(redacted, originals, strict=True) if text or not original
    ]


def _texts(messages: list[Message]) -> list[str]:
    """The texts of a turn's messages in the order they are sent: each message's tool
    result first."""
    texts: list[str] = []
    for message in messages:
        if message.tool_result is not None:
            texts += [p.text for p in message.tool_result.content if isinstance(p, TextPart)]
        texts += [p.text for p in message.content if isinstance(p, TextPart)]
    return texts


def _is_image_data(payload: str, kind: str) -> bool:
    """Base64 of an image of that kind, by its first bytes, and nothing else."""
    if not payload.isascii() or payload.encode("ascii").translate(None, _BASE64_ALPHABET):
        return False
    try:
        start = base64.b64decode(payload[:16])
    except binascii.Error:
        return False
    return _SIGNATURES[kind].match(start) is not None

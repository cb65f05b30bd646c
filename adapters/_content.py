"""Small helpers on the shared model used by several codecs."""

from __future__ import annotations

from typing import Any

import orjson

from adapters._base import InvalidRequest
from adapters._model import Part, TextPart


def joined_text(parts: list[Part]) -> str:
    return "".join(part.text for part in parts if isinstance(part, TextPart))


def split_data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 data) of a `data:<type>;base64,<data>` URL, else None."""
    if not url.startswith("data:"):
        return None
    header, comma, data = url[5:].partition(",")
    media_type, _, encoding = header.partition(";")
    if not comma or encoding != "base64":
        return None
    return media_type or "application/octet-stream", data


def arguments_object(arguments: str, param: str) -> dict[str, Any]:
    """Tool-call arguments as the JSON object Anthropic and Gemini want on the wire."""
    if not arguments.strip():
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest("tool call arguments are not valid JSON", param=param) from exc
    if not isinstance(value, dict):
        raise InvalidRequest("tool call arguments must be a JSON object", param=param)
    return value

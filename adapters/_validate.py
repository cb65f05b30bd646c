"""Field checks: on inbound request bodies (naming the offending field, OpenAI-style),
and on every value read from a provider's answer that reaches a record, a metric or
the client (an answer that fails one is a MALFORMED_RESPONSE, and the router falls back)."""

from __future__ import annotations

import math
import re
from array import array as packed_array
from collections.abc import Mapping
from typing import Any, TypeVar

import orjson

from adapters._base import InvalidRequest, ProviderError, ProviderErrorKind

# Nesting deeper than this is refused, from clients (a 400) and from providers (a
# malformed answer): it leaves room below orjson's encoding limit (255) for the
# wrapping our codecs add, and no tool schema or argument object nests this deep.
MAX_JSON_DEPTH = 100
# Bounds on what a provider reports: a token count fits a JSON number exactly and any
# metric; ids, model names and finish reasons are short in every provider's API.
MAX_TOKEN_COUNT = 2**31 - 1
MAX_ID_CHARS = 256
MAX_TOOL_INDEX = 1023

_T = TypeVar("_T")


def obj(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRequest(f"'{param}' must be an object", param=param)
    return value


def array(value: Any, param: str, *, non_empty: bool = False) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidRequest(f"'{param}' must be an array", param=param)
    if non_empty and not value:
        raise InvalidRequest(f"'{param}' must not be empty", param=param)
    return value


def string(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"'{param}' must be a string", param=param)
    return value


def optional_string(value: Any, param: str) -> str | None:
    return None if value is None else string(value, param)


def boolean(value: Any, param: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest(f"'{param}' must be a boolean", param=param)
    return value


def positive_int(value: Any, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequest(f"'{param}' must be a positive integer", param=param)
    return value


def number(value: Any, param: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidRequest(f"'{param}' must be a number from {low} to {high}", param=param)
    return float(value)


def string_list(value: Any, param: str) -> list[str]:
    return [string(item, f"{param}[{n}]") for n, item in enumerate(array(value, param))]


def integer(value: Any, param: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequest(f"'{param}' must be an integer from {low} to {high}", param=param)
    return value


_Choice = TypeVar("_Choice", bound=str)


def choice(value: Any, param: str, allowed: tuple[_Choice, ...]) -> _Choice | None:
    """One of `allowed`, or None when absent; the message lists the choices, never the value."""
    if value is None:
        return None
    for option in allowed:
        if value == option:
            return option
    raise InvalidRequest(f"'{param}' must be one of {', '.join(allowed)}", param=param)


_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def unknown_field(key: str, param: str | None) -> InvalidRequest:
    """The error for a field the protocol does not define; a key that does not look like
    a field name is not echoed (it is client text and may hold anything)."""
    shown = key if _NAME.fullmatch(key) else "?"
    where = shown if param is None else f"{param}.{shown}"
    inside = "" if param is None else f" in '{param}'"
    return InvalidRequest(f"unknown field '{shown}'{inside}: not supported", param=where)


def known(value: dict[str, Any], param: str, fields: tuple[str, ...]) -> None:
    """Refuse a field the protocol does not define: a feature is never silently dropped."""
    for key, item in value.items():
        if key not in fields and item is not None:
            raise unknown_field(key, param)


def name(value: Any, param: str) -> str:
    """A schema or tool name as OpenAI allows it: a-z, A-Z, 0-9, _ and -, up to 64."""
    text = string(value, param)
    if not _NAME.fullmatch(text):
        raise InvalidRequest(
            f"'{param}' must be 1 to 64 letters, digits, underscores or dashes", param=param
        )
    return text


# -- depth -------------------------------------------------------------------------

_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_JSON_TOKENS_BYTES = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON text nests objects and arrays deeper than `limit` (strings skipped;
    an unterminated string counts its brackets, which can only refuse more)."""
    if text.count("{") + text.count("[") <= limit:
        return False  # the common case: too few brackets to nest that deep
    depth = 0
    for token in _JSON_TOKENS.finditer(text):
        mark = token.group()
        if mark == "{" or mark == "[":
            depth += 1
            if depth > limit:
                return True
        elif mark == "}" or mark == "]":
            depth -= 1
    return False


def could_nest(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `body` has enough brackets to nest past `limit`, its strings included
    (tool-call arguments are JSON text inside them): two counts at memory speed."""
    return body.count(b"{") + body.count(b"[") > limit


def body_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """`too_deep` for a raw body, once `could_nest` said it might be; JSON texts inside
    its strings are checked apart, once decoded."""
    depth = 0
    for token in _JSON_TOKENS_BYTES.finditer(body):
        mark = token.group()
        if mark == b"{" or mark == b"[":
            depth += 1
            if depth > limit:
                return True
        elif mark == b"}" or mark == b"]":
            depth -= 1
    return False


# -- provider answers ------------------------------------------------------------------


def bad_answer(message: str) -> ProviderError:
    return ProviderError(ProviderErrorKind.MALFORMED_RESPONSE, message)


def answer_object(value: Any, what: str) -> dict[str, Any]:
    """An optional nested object: absent (null) reads as empty, another type is malformed."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_answer(f"{what} is not an object")
    return value


def answer_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_answer(f"{what} is not an array")
    return value


def token_count(value: Any, what: str) -> int:
    """A non-negative integer within bounds; absent (null) counts 0. Strings, floats,
    booleans, negative and huge numbers are malformed: they would reach the metrics
    and the audit record."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOKEN_COUNT:
        raise bad_answer(f"{what} is not a token count")
    return value


def answer_text(value: Any, what: str) -> str:
    """Generated text; absent (null) reads as empty."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad_answer(f"{what} is not a string")
    return value


def answer_id(value: Any, what: str) -> str:
    """An id or model name: a string of at most MAX_ID_CHARS; absent (null) reads as empty."""
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_ID_CHARS:
        raise bad_answer(f"{what} is not an id of at most {MAX_ID_CHARS} characters")
    return value


def optional_id(value: Any, what: str) -> str | None:
    return None if value is None else answer_id(value, what)


def finish_reason(value: Any, known: Mapping[str, _T], default: _T, what: str) -> _T | None:
    """The shared finish reason for a provider's own: None when absent; an unknown
    string maps to `default`, since providers add reasons over time (Anthropic's
    versioning policy asks clients to expect them), but a non-string is malformed."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_ID_CHARS:
        raise bad_answer(f"{what} is not a finish reason")
    return known.get(value, default)


def tool_index(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOOL_INDEX:
        raise bad_answer(f"{what} is not a tool call index from 0 to {MAX_TOOL_INDEX}")
    return value


def arguments_text(value: Any, what: str) -> str:
    """Tool-call arguments as JSON text (OpenAI sends them so): kept as the model wrote
    them, even unparsable, but never nested deeper than MAX_JSON_DEPTH."""
    text = answer_text(value, what)
    if too_deep(text):
        raise bad_answer(f"{what} nest deeper than {MAX_JSON_DEPTH}")
    return text


def arguments_json(value: Any, what: str) -> str:
    """Tool-call arguments sent as an object (Anthropic, Gemini), as JSON text."""
    document = answer_object(value, what)
    try:
        text = orjson.dumps(document).decode()
    except TypeError:  # orjson: nesting past its limit, or an integer past 64 bits
        raise bad_answer(f"{what} cannot be encoded as JSON") from None
    if too_deep(text):
        raise bad_answer(f"{what} nest deeper than {MAX_JSON_DEPTH}")
    return text


def error_text(value: Any) -> str:
    """A field of a provider's error (message, code, type) as text: a string, or a number
    written out; any other type reads as absent rather than being rendered."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def logprob(value: Any, what: str) -> float:
    """A log probability: a finite number (never positive in practice, not enforced)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad_answer(f"{what} is not a finite number")
    return float(value)


def token_bytes(value: Any, what: str) -> list[int] | None:
    """A token's UTF-8 bytes as OpenAI lists them: integers 0-255, or absent."""
    if value is None:
        return None
    items = answer_list(value, what)
    if len(items) > MAX_ID_CHARS or not all(type(b) is int and 0 <= b <= 255 for b in items):
        raise bad_answer(f"{what} is not a list of bytes")
    return items


# -- embedding vectors -------------------------------------------------------------------

# The widest embedding models today have 3,072 to 4,096 dimensions; past this a
# "vector" is a hostile answer, not a model's.
MAX_DIMENSIONS = 65536
_NUMBERS = frozenset({float, int})


def vectors(value: Any, count: int, dimensions: int | None, what: str) -> list[list[float]]:
    """An answer's vectors: exactly `count`, each a non-empty list of finite numbers
    within float32's range, all of one length (`dimensions` when the request set it)."""
    items = answer_list(value, what)
    if len(items) != count:
        raise bad_answer(f"{what} has {len(items)} vectors for {count} inputs")
    checked = [vector(item, f"{what}[{n}]") for n, item in enumerate(items)]
    lengths = {len(item) for item in checked}
    if len(lengths) > 1:
        raise bad_answer(f"{what} mixes vectors of {len(lengths)} different lengths")
    if dimensions is not None and lengths and lengths != {dimensions}:
        raise bad_answer(f"{what} has vectors of {lengths.pop()} dimensions, not {dimensions}")
    return checked


def vector(value: Any, what: str) -> list[float]:
    # C-speed checks only (a set of types, one conversion, one sum): a batch answer holds
    # hundreds of thousands of numbers.
    if not isinstance(value, list) or not 0 < len(value) <= MAX_DIMENSIONS:
        raise bad_answer(f"{what} is not a list of 1 to {MAX_DIMENSIONS} numbers")
    if not set(map(type, value)) <= _NUMBERS:  # bool is not int here: true is refused
        raise bad_answer(f"{what} holds a value that is not a number")
    # float32 turns a value past its range into infinity, so one sum of the float32
    # values is finite exactly when every value is a finite float32 (base64 answers are
    # float32); an integer too large for any float raises instead.
    try:
        finite = math.isfinite(sum(packed_array("f", value)))
    except OverflowError:
        finite = False
    if not finite:
        raise bad_answer(f"{what} holds a number that is not finite within float32's range")
    return value

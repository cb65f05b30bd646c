"""Field checks for inbound request bodies that name the offending field, OpenAI-style."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from adapters._base import InvalidRequest


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

"""Field checks for inbound request bodies that name the offending field, OpenAI-style."""

from __future__ import annotations

from typing import Any

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

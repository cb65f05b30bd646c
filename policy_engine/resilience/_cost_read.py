"""Outcome records read for the cost report: checked field by field, so a record from an
older sidecar (no price, no model) or a damaged field counts what it can, never crashes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from policy_engine.audit import Record, iter_records
from policy_engine.resilience._cost import NO_TASK_CLASS, Served


def read_served(
    directory: Path, since: datetime | None = None, until: datetime | None = None
) -> list[Served]:
    """The outcome records of the log in [since, until)."""
    return list(served_records((record for _, record in iter_records(directory)), since, until))


def served_records(
    records: Iterable[Record], since: datetime | None, until: datetime | None
) -> Iterator[Served]:
    for record in records:
        if record.kind != "request":
            continue
        at = datetime.fromisoformat(record.at).astimezone(UTC)
        if (since is not None and at < since) or (until is not None and at >= until):
            continue
        yield served(record.event, at)


def served(event: dict[str, Any], at: datetime) -> Served:
    context = _object(event.get("context"))
    constraints = _object(_object(event.get("policy")).get("constraints"))
    usage = _object(event.get("usage"))
    attempts = event.get("attempts")
    first = _object(attempts[0]) if isinstance(attempts, list) and attempts else {}
    return Served(
        at=at,
        tenant=_text(event.get("tenant")) or "-",
        alias=_text(context.get("model")) or "-",
        task_class=_text(constraints.get("task_class")) or NO_TASK_CLASS,
        answered=event.get("outcome") == "answered",
        provider=_text(event.get("provider")),
        first_provider=_text(first.get("provider")),
        fallback=_text(event.get("fallback")),
        input_tokens=_count(usage.get("input_tokens")),
        output_tokens=_count(usage.get("output_tokens")),
        price=_price(event.get("price")),
    )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _count(value: Any) -> int:
    return value if type(value) is int and value >= 0 else 0


def _rate(value: Any) -> float | None:
    if type(value) in (int, float) and value >= 0:
        return float(value)
    return None


def _price(value: Any) -> tuple[float, float] | None:
    price = _object(value)
    price_in, price_out = _rate(price.get("input_per_1m")), _rate(price.get("output_per_1m"))
    return None if price_in is None or price_out is None else (price_in, price_out)

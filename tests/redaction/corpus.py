"""The redaction corpus (data/redaction_corpus.jsonl, written by bench/redaction_corpus.py)
and how a detector is scored against it, per category.

A value counts as found when spans of its type cover every character of it (redacting
them leaves nothing of it); a look-alike survives when no span touches it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

CORPUS = Path(__file__).with_name("data") / "redaction_corpus.jsonl"

# A detector's answer for a text: (start, end, type) of each span.
Spans = Iterable[tuple[int, int, str]]


@dataclass
class Case:
    category: str
    text: str
    values: list[tuple[int, int, str]] = field(default_factory=list)
    lookalikes: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Score:
    """Per category: values found of values, look-alikes kept of look-alikes, and the
    texts of the misses."""

    found: dict[str, int] = field(default_factory=dict)
    values: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    lookalikes: dict[str, int] = field(default_factory=dict)
    misses: dict[str, list[str]] = field(default_factory=dict)

    def recall(self, category: str) -> float:
        return self.found.get(category, 0) / self.values[category]

    def survival(self, category: str) -> float:
        return self.kept.get(category, 0) / self.lookalikes[category]


def cases() -> list[Case]:
    loaded = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        loaded.append(
            Case(
                record["category"],
                record["text"],
                [tuple(value) for value in record.get("values", [])],
                [tuple(lookalike) for lookalike in record.get("lookalikes", [])],
            )
        )
    return loaded


def score(detect: Callable[[str], Spans], corpus: list[Case]) -> Score:
    result = Score()
    for case in corpus:
        spans = list(detect(case.text))
        for start, end, entity in case.values:
            covered = {i for a, b, t in spans if t == entity for i in range(a, b)}
            hit = covered >= set(range(start, end))
            _count(result.values, result.found, case.category, hit)
            if not hit:
                result.misses.setdefault(case.category, []).append(case.text)
        for start, end in case.lookalikes:
            kept = not any(a < end and start < b for a, b, _ in spans)
            _count(result.lookalikes, result.kept, case.category, kept)
            if not kept:
                result.misses.setdefault(case.category, []).append(case.text)
    return result


def _count(totals: dict[str, int], hits: dict[str, int], category: str, hit: bool) -> None:
    totals[category] = totals.get(category, 0) + 1
    hits[category] = hits.get(category, 0) + hit

"""The structured-PII detector: one combined scan of the skeleton, then checks of candidates only.

The text is read as its skeleton (see _skeleton), so fullwidth digits, no-break spaces
and the like hide nothing, and spans are the original's. Candidates come from the scan
(see _scanner, or its native twin), digit runs are split into values (see _runs), and
every other candidate is checked by its family's check (see _validators).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from policy_engine.redaction._grammar import SECRET_FAMILIES
from policy_engine.redaction._native import native_detector
from policy_engine.redaction._numbers import NumberClassifier
from policy_engine.redaction._runs import CONTEXT, Run
from policy_engine.redaction._scanner import Candidate, Scanner
from policy_engine.redaction._skeleton import LETTER, skeleton
from policy_engine.redaction._types import ENTITY_TYPES, Span
from policy_engine.redaction._validators import (
    DEFAULT_PHONE_REGIONS,
    email_bounds,
    is_iban,
    is_ipv6,
    is_nino,
    national_id_type,
)

# Everything but the types that need NER (found by context, not by shape).
STRUCTURED_TYPES: frozenset[str] = ENTITY_TYPES - {"PERSON", "LOCATION"}
# What makes a digit run glued to the word before it (see _numbers.GLUED).
_GLUING = frozenset(f"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-{LETTER}")


class PatternDetector:
    """Detects every structured type of ENTITY_TYPES (all but PERSON and LOCATION)."""

    def __init__(self, phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> None:
        self.entity_types: frozenset[str] = STRUCTURED_TYPES
        self._numbers = NumberClassifier(phone_regions)
        self._native = native_detector(phone_regions)

    @property
    def native(self) -> bool:
        """Whether texts are read by the native detector (native/scan)."""
        return self._native is not None

    def detect(self, text: str) -> list[Span]:
        if self._native is not None:
            try:
                return [Span(*found) for found in self._native.detect(text)]
            except self._native.limit_error:
                pass  # PCRE2 stopped at one of its resource limits: Python's re has none
        read = skeleton(text)
        return self._detect(read, Scanner(read))

    def _detect(self, text: str, next_candidate: Callable[[int], Candidate | None]) -> list[Span]:
        spans: list[Span] = []
        pos = 0
        while (candidate := next_candidate(pos)) is not None:
            kind, begin, end, value_start, value_end = candidate
            if kind == "number":
                spans.extend(self._number_spans(text, begin, value_end))
                pos = _after_run(text, begin, end, value_end)
                continue
            span = _validate(kind, text, begin, end, value_start, value_end)
            if span is None:
                # Resume just past the start: the lookbehinds keep the engine from
                # starting again inside the rejected token, so this stays linear.
                pos = begin + 1
            else:
                # The span may end before the match (an IBAN candidate that ran on).
                spans.append(span)
                pos = span.end
        return spans

    def _number_spans(self, text: str, begin: int, end: int) -> list[Span]:
        glued = begin > 0 and text[begin - 1] in _GLUING
        run = Run(self._numbers, text[begin:end], text[max(0, begin - CONTEXT) : begin], glued)
        return [Span(begin + a, begin + b, entity) for a, b, entity in run.values()]


def _after_run(text: str, begin: int, end: int, value_end: int) -> int:
    """Where to scan on after a digit run: at a last group glued to what follows, read
    again with it ("...0958 12345678Z"); in a run glued whole to what follows, after its
    last separator ("(0)954jane@example.com"); else at the run's end."""
    if begin < value_end < end:
        return value_end
    if value_end == begin:
        cut = max(text.rfind(separator, begin, end) for separator in _SEPARATORS) + 1
        if cut > begin:
            return cut
    return end


_SEPARATORS = (" ", ".", "-", "/", "(", ")")


def _validate(
    kind: str, text: str, begin: int, end: int, value_start: int, value_end: int
) -> Span | None:
    if kind in SECRET_FAMILIES:
        return Span(value_start, value_end, "SECRET")
    value = text[value_start:value_end]
    if kind == "email":
        bounds = email_bounds(value)
        return (
            None if bounds is None else Span(begin + bounds[0], begin + bounds[1], "EMAIL_ADDRESS")
        )
    if kind == "iban":
        return _iban_span(value, begin)
    entity = _SIMPLE_CHECKS[kind](value)
    return None if entity is None else Span(begin, end, entity)


def _iban_span(value: str, start: int) -> Span | None:
    # The candidate may have swallowed a following word's worth of groups.
    end = len(value)
    while end >= 15:
        if is_iban(value[:end]):
            return Span(start, start + end, "IBAN_CODE")
        end = value.rfind(" ", 0, end)
    return None


_SIMPLE_CHECKS: dict[str, Callable[[str], str | None]] = {
    "nino": lambda value: "UK_NINO" if is_nino(value) else None,
    "national_id": national_id_type,
    "ipv6": lambda value: "IP_ADDRESS" if is_ipv6(value) else None,
}

"""PII redaction with reversible placeholders, before anything leaves for a provider.

`default_redactor(ner=True)` raises `NerUnavailable` when spaCy or its English model
is missing, rather than quietly redacting without PERSON and LOCATION: the caller
decides whether to run without them (check `Redactor.uncovered(types)`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from policy_engine.redaction._native import NATIVE_SCAN
from policy_engine.redaction._ner import DEFAULT_NER_MODEL, SpacyNerDetector
from policy_engine.redaction._patterns import STRUCTURED_TYPES, PatternDetector
from policy_engine.redaction._session import RedactionSession, Redactor
from policy_engine.redaction._stream import StreamRestorer
from policy_engine.redaction._types import (
    ENTITY_TYPES,
    Detector,
    NerUnavailable,
    RedactionError,
    Span,
)
from policy_engine.redaction._validators import DEFAULT_PHONE_REGIONS


def default_redactor(
    ner: bool = False,
    phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS,
    ner_model: str = DEFAULT_NER_MODEL,
    cache_entries: int = 0,
) -> Redactor:
    # The scan process builds its own with the same arguments (see _offload).
    factory = partial(_detectors, ner, tuple(phone_regions), ner_model)
    return Redactor(factory(), cache_entries, detector_factory=factory)


def _detectors(ner: bool, phone_regions: tuple[str, ...], ner_model: str) -> list[Detector]:
    detectors: list[Detector] = [PatternDetector(phone_regions)]
    if ner:
        detectors.append(SpacyNerDetector(ner_model))
    return detectors


__all__ = [
    "DEFAULT_NER_MODEL",
    "DEFAULT_PHONE_REGIONS",
    "ENTITY_TYPES",
    "NATIVE_SCAN",
    "STRUCTURED_TYPES",
    "Detector",
    "NerUnavailable",
    "PatternDetector",
    "RedactionError",
    "RedactionSession",
    "Redactor",
    "SpacyNerDetector",
    "Span",
    "StreamRestorer",
    "default_redactor",
]

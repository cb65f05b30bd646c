"""PERSON and LOCATION through spaCy's statistical NER: the optional `ner` extra.

Names and places have no checksum or shape, so only a trained model finds them.
spaCy and its English pipeline are imported lazily: without them this module still
imports, and asking for the detector raises `NerUnavailable` with an install hint.
"""

from __future__ import annotations

import importlib
from typing import Any

from policy_engine.redaction._types import NerUnavailable, Span

DEFAULT_NER_MODEL = "en_core_web_sm"

# spaCy's OntoNotes labels onto ours: GPE (countries, cities), LOC (mountains, seas),
# FAC (buildings, streets) all place a person.
_LABELS = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION"}
_UNNEEDED = ("parser", "tagger", "morphologizer", "lemmatizer", "attribute_ruler", "senter")


class SpacyNerDetector:
    entity_types: frozenset[str] = frozenset({"PERSON", "LOCATION"})

    def __init__(self, model: str = DEFAULT_NER_MODEL) -> None:
        self._nlp = _load(model)

    def detect(self, text: str) -> list[Span]:
        document = self._nlp(text)
        return [
            Span(entity.start_char, entity.end_char, _LABELS[entity.label_])
            for entity in document.ents
            if entity.label_ in _LABELS
        ]


def _load(model: str) -> Any:
    try:
        spacy = importlib.import_module("spacy")
    except ImportError as error:
        raise NerUnavailable(
            "PERSON/LOCATION detection needs spaCy: pip install 'policy-engine[ner]'"
        ) from error
    try:
        # Entities are all that is needed; the parser and taggers cost time per request.
        return spacy.load(model, exclude=list(_UNNEEDED))
    except OSError as error:
        raise NerUnavailable(
            f"spaCy model {model!r} is not installed: python -m spacy download {model}"
        ) from error

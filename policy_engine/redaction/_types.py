"""The entity vocabulary, the span type detectors return, and the detector interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# The policy's redaction obligations name these types, so the spelling is a contract.
ENTITY_TYPES: frozenset[str] = frozenset(
    {
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "CREDIT_CARD",
        "IBAN_CODE",
        "US_SSN",
        "IP_ADDRESS",
        "SECRET",
        "UK_NINO",
        "DE_TAX_ID",
        "FR_NIR",
        "ES_NIF",
        "ES_NIE",
        "IT_FISCAL_CODE",
        "NL_BSN",
        "IN_AADHAAR",
        "PERSON",
        "LOCATION",
    }
)


@dataclass(frozen=True, slots=True)
class Span:
    """`text[start:end]` is a value of `entity_type`."""

    start: int
    end: int
    entity_type: str


class Detector(Protocol):
    entity_types: frozenset[str]

    def detect(self, text: str) -> list[Span]: ...


class RedactionError(Exception):
    """Root of the errors this package raises."""


class NerUnavailable(RedactionError):
    """The optional NER backend (PERSON, LOCATION) is not installed."""

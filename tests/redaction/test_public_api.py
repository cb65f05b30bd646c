"""The names the pipeline imports from policy_engine.redaction."""

from __future__ import annotations

import policy_engine.redaction as redaction


def test_public_surface_is_pinned() -> None:
    assert set(redaction.__all__) == {
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
        "Span",
        "SpacyNerDetector",
        "StreamRestorer",
        "default_redactor",
    }


def test_entity_types_are_the_policy_vocabulary() -> None:
    assert {
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
    } == redaction.ENTITY_TYPES


def test_the_pattern_detector_covers_every_type_but_the_ner_ones() -> None:
    assert {"PERSON", "LOCATION"} == redaction.ENTITY_TYPES - redaction.STRUCTURED_TYPES


def test_errors_share_one_root() -> None:
    assert issubclass(redaction.NerUnavailable, redaction.RedactionError)

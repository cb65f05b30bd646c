"""The optional NER backend: label mapping with a real spaCy pipeline, clean failure without."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_engine.redaction import ENTITY_TYPES, NerUnavailable, Redactor, SpacyNerDetector


def test_missing_model_raises_ner_unavailable_with_an_install_hint() -> None:
    with pytest.raises(NerUnavailable, match=r"not installed|needs spaCy"):
        SpacyNerDetector("no_such_model_for_tests")


@pytest.fixture(scope="module")
def ruler_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A spaCy pipeline whose 'model' is a rule list: no weights to download."""
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(
        [
            {"label": "PERSON", "pattern": "Jane Roe"},
            {"label": "GPE", "pattern": "Lyon"},
            {"label": "FAC", "pattern": "Pier 39"},
            {"label": "ORG", "pattern": "Acme"},
        ]
    )
    path = tmp_path_factory.mktemp("ner") / "ruler"
    nlp.to_disk(path)
    return path


def test_person_and_places_are_mapped_and_other_labels_ignored(ruler_pipeline: Path) -> None:
    detector = SpacyNerDetector(str(ruler_pipeline))
    text = "Jane Roe met Acme in Lyon at Pier 39"
    found = [(text[s.start : s.end], s.entity_type) for s in detector.detect(text)]
    assert found == [("Jane Roe", "PERSON"), ("Lyon", "LOCATION"), ("Pier 39", "LOCATION")]


def test_ner_spans_are_redacted_and_restored(ruler_pipeline: Path) -> None:
    session = Redactor([SpacyNerDetector(str(ruler_pipeline))]).session()
    redacted = session.redact_text("Jane Roe from Lyon", ENTITY_TYPES)
    assert redacted == "<PERSON_1> from <LOCATION_1>"
    assert session.restore_text(redacted) == "Jane Roe from Lyon"

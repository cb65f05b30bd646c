"""Presidio, offline, regex recognizers only: the baseline the redaction bench compares with.

A blank spaCy English pipeline saved to disk stands in for a model (nothing is
downloaded), every predefined recognizer but the spaCy NER one is kept, the
country-specific recognizers for the types we detect are added for English, and the
e-mail recognizer's tldextract runs from its bundled suffix list, never the network.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import SimpleNamespace

import spacy
import tldextract
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import (
    EsNieRecognizer,
    EsNifRecognizer,
    InAadhaarRecognizer,
    ItFiscalCodeRecognizer,
    PhoneRecognizer,
    SpacyRecognizer,
    UkNinoRecognizer,
)
from presidio_analyzer.predefined_recognizers.generic import email_recognizer

try:
    from presidio_analyzer.predefined_recognizers import DeTaxIdRecognizer
except ImportError:  # older Presidio releases have no German tax id recognizer
    DeTaxIdRecognizer = None

# Presidio's entity names onto ours; types Presidio lacks (secrets, FR NIR, NL BSN)
# simply never match, which is the honest comparison.
PRESIDIO_TO_OURS = {
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN_CODE",
    "US_SSN": "US_SSN",
    "IP_ADDRESS": "IP_ADDRESS",
    "UK_NINO": "UK_NINO",
    "DE_TAX_ID": "DE_TAX_ID",
    "ES_NIF": "ES_NIF",
    "ES_NIE": "ES_NIE",
    "IT_FISCAL_CODE": "IT_FISCAL_CODE",
    "IN_AADHAAR": "IN_AADHAAR",
    "PERSON": "PERSON",
    "LOCATION": "LOCATION",
}


def offline_tldextract() -> None:
    extractor = tldextract.TLDExtract(suffix_list_urls=())
    # The recognizer calls the module-level `tldextract.extract`; give it the offline one
    # without touching the real tldextract module other code may use.
    email_recognizer.tldextract = SimpleNamespace(extract=extractor)


def build_analyzer(phone_regions: tuple[str, ...], workdir: Path | None = None) -> AnalyzerEngine:
    offline_tldextract()
    model_dir = Path(workdir or tempfile.mkdtemp(prefix="presidio-blank-")) / "blank_en"
    if not model_dir.exists():
        spacy.blank("en").to_disk(model_dir)
    nlp_engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": str(model_dir)}])
    nlp_engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp_engine)
    registry.recognizers = [
        r for r in registry.recognizers if not isinstance(r, SpacyRecognizer | PhoneRecognizer)
    ]
    # Same phone regions as ours, so the comparison is like for like.
    registry.add_recognizer(PhoneRecognizer(supported_regions=phone_regions))
    present = {e for r in registry.recognizers for e in r.supported_entities}
    extra = [
        EsNifRecognizer,
        EsNieRecognizer,
        ItFiscalCodeRecognizer,
        InAadhaarRecognizer,
        UkNinoRecognizer,
    ]
    if DeTaxIdRecognizer is not None:
        extra.append(DeTaxIdRecognizer)
    for recognizer_class in extra:
        recognizer = recognizer_class(supported_language="en")
        if not present.intersection(recognizer.supported_entities):
            registry.add_recognizer(recognizer)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])


def presidio_spans(analyzer: AnalyzerEngine, text: str) -> list[tuple[int, int, str]]:
    results = analyzer.analyze(text=text, language="en", entities=list(PRESIDIO_TO_OURS))
    return [(r.start, r.end, PRESIDIO_TO_OURS[r.entity_type]) for r in results]

"""The detector against the redaction corpus: every category's values found, look-alikes kept.

The thresholds are correctness thresholds on a fixed corpus (tests/redaction/corpus.py):
recall at least 0.99 in every category of values, survival at least 0.98 in every
category of look-alikes. bench/REDACTION_RESULTS.md has the scores, and Presidio's.
"""

from __future__ import annotations

import pytest

from policy_engine.redaction import PatternDetector
from tests.redaction.corpus import Case, Score, cases, score

RECALL = 0.99
SURVIVAL = 0.98
CORPUS = cases()


@pytest.fixture(scope="module")
def scored() -> Score:
    detector = PatternDetector()
    return score(
        lambda text: ((s.start, s.end, s.entity_type) for s in detector.detect(text)), CORPUS
    )


def _categories(kind: str) -> list[str]:
    return sorted({c.category for c in CORPUS if (c.values if kind == "values" else c.lookalikes)})


def test_the_corpus_holds_three_hundred_cases_or_more_in_every_kind_of_category() -> None:
    assert len(CORPUS) >= 300
    assert len(_categories("values")) >= 15
    assert {"order_number", "date", "version", "uuid", "hash", "amount", "coordinate"} <= set(
        _categories("lookalikes")
    )


@pytest.mark.parametrize("category", _categories("values"))
def test_values_of_every_category_are_found(scored: Score, category: str) -> None:
    assert scored.recall(category) >= RECALL, scored.misses.get(category)


@pytest.mark.parametrize("category", _categories("lookalikes"))
def test_look_alikes_of_every_category_survive(scored: Score, category: str) -> None:
    assert scored.survival(category) >= SURVIVAL, scored.misses.get(category)


def test_a_detector_that_finds_nothing_scores_no_recall() -> None:
    # The scoring can fail: a detector that misses everything fails every category.
    empty = score(lambda text: [], CORPUS)
    assert all(empty.recall(c) == 0 for c in _categories("values"))


def test_a_detector_that_redacts_everything_keeps_no_look_alike() -> None:
    total = score(lambda text: [(0, len(text), "X")], CORPUS)
    assert all(total.survival(c) == 0 for c in _categories("lookalikes"))
    assert isinstance(CORPUS[0], Case)

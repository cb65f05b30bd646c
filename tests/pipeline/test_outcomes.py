"""Every outcome a request is counted and audited with is one the README lists."""

from __future__ import annotations

import re
from pathlib import Path

from policy_engine.pipeline import OUTCOMES

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_outcomes() -> set[str]:
    """The backquoted names in the README's "Outcomes (...): ..." paragraph."""
    paragraph = next(
        block for block in README.read_text().split("\n\n") if block.startswith("Outcomes (")
    )
    listed = paragraph.split("):", 1)[1].split(". A 413", 1)[0]
    return set(re.findall(r"`([a-z_]+)`", listed))


def test_the_readme_lists_exactly_the_outcomes_the_pipeline_records() -> None:
    assert readme_outcomes() == OUTCOMES

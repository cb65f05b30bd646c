"""Every outcome a request is counted and audited with is one the README lists."""

from __future__ import annotations

import re
from pathlib import Path

from policy_engine.pipeline import OUTCOMES

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_outcomes() -> set[str]:
    row = next(
        line for line in README.read_text().splitlines() if "`policy_engine_requests_total`" in line
    )
    listed = re.search(r"by final outcome \(([^)]*)\)", row)
    assert listed is not None, row
    return set(re.findall(r"`([a-z_]+)`", listed.group(1)))


def test_the_readme_lists_exactly_the_outcomes_the_pipeline_records() -> None:
    assert readme_outcomes() == OUTCOMES

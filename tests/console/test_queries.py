"""The per-minute rollup answers what the records answer: totals, charts and revisions
read from it agree with a scan of the records, filter by filter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from policy_engine.console import Filters, LogIndex, _queries, decisions, revisions, timeline
from tests.impact._demo_log import DemoLog

FILTERS = [
    Filters(),
    Filters(tenant="acme-eu"),
    Filters(outcome="answered"),
    Filters(provider="mistral-eu"),
    Filters(rule="residency"),
    Filters(rule="tenant", tenant="globex"),
    Filters(since=datetime(2000, 1, 1, tzinfo=UTC)),
    Filters(until=datetime(2000, 1, 1, tzinfo=UTC)),
]


@pytest.fixture(scope="module")
def index(demo_log: DemoLog) -> LogIndex:
    index = LogIndex(demo_log.settings.audit.dir)
    index.refresh()
    return index


def scanned(index: LogIndex, filters: Filters, scope: tuple[str, ...] = ()) -> int:
    where, parameters = _queries._where(filters, scope)
    return int(
        index.query(f"SELECT COUNT(*) FROM records r WHERE {where}", tuple(parameters))[0][0]
    )


@pytest.mark.parametrize("filters", FILTERS)
def test_a_total_from_the_rollup_is_the_count_of_matching_records(
    index: LogIndex, filters: Filters
) -> None:
    assert _queries._rollup_where(filters, ()) is not None
    assert decisions(index, filters, ()).total == scanned(index, filters)


def test_a_scoped_total_counts_only_the_viewers_tenants(index: LogIndex) -> None:
    assert decisions(index, Filters(), ("globex",)).total == scanned(index, Filters(), ("globex",))


@pytest.mark.parametrize("filters", FILTERS)
def test_charts_from_the_rollup_count_what_the_records_count(
    index: LogIndex, filters: Filters, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_records = timeline(index, filters, ())
    monkeypatch.setattr(_queries, "_SCAN_LIMIT", 0)  # as on a large log
    from_rollup = timeline(index, filters, ())
    assert from_rollup.width >= 60
    assert {o: sum(c) for o, c in from_rollup.outcomes.items()} == {
        o: sum(c) for o, c in from_records.outcomes.items()
    }
    assert sum(from_rollup.fallbacks) == sum(from_records.fallbacks)


def test_a_window_inside_a_minute_is_answered_from_the_records(index: LogIndex) -> None:
    filters = Filters(since=datetime(2000, 1, 1, 0, 0, 30, tzinfo=UTC))
    assert _queries._rollup_where(filters, ()) is None
    assert decisions(index, filters, ()).total == scanned(index, filters)


def test_revisions_seen_count_every_decided_request(index: LogIndex, demo_log: DemoLog) -> None:
    seen = revisions(index, ())
    assert len(seen) == 1
    assert seen[0].requests == sum(1 for s in demo_log.sent)  # each reached the policy
    assert seen[0].denied == 1

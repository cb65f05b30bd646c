"""Metrics: children remembered for the request path are the ones exported, and the
request path's own counters and histograms export what prometheus_client's would."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from policy_engine.telemetry import Metrics
from policy_engine.telemetry._loop_metrics import LoopCounter, LoopHistogram


def test_a_remembered_child_is_the_registered_child() -> None:
    metrics = Metrics()
    assert metrics.requests_by("openai", "ok") is metrics.requests.labels("openai", "ok")


def test_updates_through_a_remembered_child_are_exported() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.tokens_by("p", "input").inc(5)
    text = metrics.render().decode()
    assert 'policy_engine_provider_tokens_total{direction="input",provider="p"} 15.0' in text


def test_distinct_label_values_get_distinct_children() -> None:
    metrics = Metrics()
    metrics.decisions_by("allowed").inc()
    metrics.decisions_by("denied").inc(2)
    text = metrics.render().decode()
    assert 'policy_engine_decisions_total{result="allowed"} 1.0' in text
    assert 'policy_engine_decisions_total{result="denied"} 2.0' in text


def test_set_circuit_exports_the_state_number() -> None:
    metrics = Metrics()
    metrics.set_circuit("p", "open")
    metrics.set_circuit("p", "half_open")
    assert 'policy_engine_circuit_state{provider="p"} 1.0' in metrics.render().decode()


# The request path's counters and histograms are our own (plain numbers, see
# _loop_metrics): for any updates they export what prometheus_client's own would.
def _without_created(text: str) -> list[str]:
    return [line for line in text.splitlines() if "_created" not in line]


def _render(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b"]), st.floats(min_value=0, max_value=100)),
        max_size=30,
    )
)
def test_a_loop_histogram_exports_what_a_prometheus_histogram_would(
    observations: list[tuple[str, float]],
) -> None:
    buckets = (0.001, 0.5, 1, 2.5, 60)
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    loop = LoopHistogram("h_seconds", "doc", ("p",), buckets=buckets, registry=ours)
    reference = Histogram("h_seconds", "doc", ("p",), buckets=buckets, registry=theirs)
    for label, value in observations:
        loop.labels(label).observe(value)
        reference.labels(label).observe(value)
    assert _without_created(_render(ours)) == _without_created(_render(theirs))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["x", "y"]), st.floats(0, 1e6)), max_size=30))
def test_a_loop_counter_exports_what_a_prometheus_counter_would(
    increments: list[tuple[str, float]],
) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    loop = LoopCounter("c", "doc", ("k",), registry=ours)
    reference = Counter("c", "doc", ("k",), registry=theirs)
    for label, amount in increments:
        loop.labels(label).inc(amount)
        reference.labels(label).inc(amount)
    assert _without_created(_render(ours)) == _without_created(_render(theirs))


def test_every_series_prometheus_would_export_is_exported_with_created() -> None:
    # Same names, types and labels, the _created series included; only values differ.
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    LoopHistogram("h_seconds", "doc", buckets=(1,), registry=ours).observe(0.5)
    LoopCounter("c", "doc", registry=ours).inc()
    Histogram("h_seconds", "doc", buckets=(1,), registry=theirs).observe(0.5)
    Counter("c", "doc", registry=theirs).inc()

    def names(text: str) -> list[str]:
        return [line.split(" ")[0] for line in text.splitlines()]

    assert names(_render(ours)) == names(_render(theirs))


def test_an_observation_on_a_bucket_bound_counts_in_that_bucket() -> None:
    registry = CollectorRegistry()
    histogram = LoopHistogram("h", "doc", buckets=(1, 2), registry=registry)
    for value in (1, 1.5, 2, 3):
        histogram.observe(value)
    text = _render(registry)
    assert 'h_bucket{le="1.0"} 1.0' in text
    assert 'h_bucket{le="2.0"} 3.0' in text
    assert 'h_bucket{le="+Inf"} 4.0' in text
    assert "h_sum 7.5" in text


def test_a_loop_counter_refuses_to_go_down_and_wrong_labels() -> None:
    counter = LoopCounter("c", "doc", ("k",), registry=CollectorRegistry())
    with pytest.raises(ValueError):
        counter.labels("x").inc(-1)
    with pytest.raises(ValueError):
        counter.labels("x", "y")


def test_a_loop_metric_name_cannot_be_registered_twice() -> None:
    registry = CollectorRegistry()
    LoopCounter("c", "doc", registry=registry)
    with pytest.raises(ValueError):
        Counter("c", "doc", registry=registry)

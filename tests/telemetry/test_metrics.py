"""Metrics: children remembered for the request path are the ones exported."""

from __future__ import annotations

from policy_engine.telemetry import Metrics


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

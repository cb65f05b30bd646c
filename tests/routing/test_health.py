"""The circuit breaker: closed, open after consecutive failures, one half-open probe."""

from __future__ import annotations

from policy_engine.routing import CircuitBreaker, CircuitState


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_the_threshold_of_consecutive_failures() -> None:
    breaker = CircuitBreaker(threshold=3, open_s=10, clock=Clock())
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    assert not breaker.available()
    assert not breaker.acquire()


def test_a_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(threshold=2, open_s=10, clock=Clock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED


def test_after_the_open_period_exactly_one_probe_goes_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, open_s=10, clock=clock)
    breaker.record_failure()
    clock.now = 10
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.acquire()
    assert not breaker.acquire()
    assert not breaker.available()


def test_a_successful_probe_closes_the_circuit() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, open_s=10, clock=clock)
    breaker.record_failure()
    clock.now = 10
    breaker.acquire()
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED


def test_a_failed_probe_opens_the_circuit_again() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=5, open_s=10, clock=clock)
    for _ in range(5):
        breaker.record_failure()
    clock.now = 10
    breaker.acquire()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN


def test_a_probe_that_says_nothing_about_health_frees_the_probe_slot() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, open_s=10, clock=clock)
    breaker.record_failure()
    clock.now = 10
    breaker.acquire()
    breaker.release()
    assert breaker.acquire()


def test_closed_holds_until_the_circuit_opens_and_again_after_a_successful_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=2, open_s=10, clock=clock)
    breaker.record_failure()
    assert breaker.closed  # one failure below the threshold
    breaker.record_failure()
    assert not breaker.closed
    clock.now = 10  # half-open is not closed either
    assert breaker.state is CircuitState.HALF_OPEN and not breaker.closed
    assert breaker.acquire()
    breaker.record_success()
    assert breaker.closed

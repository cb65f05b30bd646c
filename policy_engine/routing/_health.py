"""Per-provider health: a circuit breaker and an observed-latency average."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitListener(Protocol):
    """Told when this replica's own attempts open or close a circuit (shared circuits)."""

    def opened(self, open_s: float) -> None: ...

    def closed(self) -> None: ...


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; after `open_s` lets one probe through.

    A probe that succeeds closes the circuit; one that fails opens it again. Another
    replica's view can open it too (`open_remotely`), for what is left of its open time.
    """

    listener: CircuitListener | None = None

    def __init__(
        self, threshold: int, open_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = threshold
        self._open_s = open_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def closed(self) -> bool:
        """Closed for sure: the one check the request path makes of every breaker."""
        return self._opened_at is None

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock() - self._opened_at >= self._open_s:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def available(self) -> bool:
        """May a request be planned onto this provider now (without taking the probe)?"""
        state = self.state
        return state is CircuitState.CLOSED or (
            state is CircuitState.HALF_OPEN and not self._probing
        )

    def acquire(self) -> bool:
        """Take permission for one attempt; in half-open, only one probe at a time."""
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def record_success(self) -> None:
        was_open = self._opened_at is not None
        self._failures = 0
        self._opened_at = None
        self._probing = False
        if was_open and self.listener is not None:
            self.listener.closed()

    def record_failure(self) -> None:
        self._failures += 1
        if self._probing or self._failures >= self._threshold:
            opening = self.state is not CircuitState.OPEN
            self._opened_at = self._clock()
            if opening and self.listener is not None:
                self.listener.opened(self._open_s)
        self._probing = False

    def open_remotely(self, remaining_s: float) -> bool:
        """Open for `remaining_s` (another replica's circuit); False if already open longer."""
        opened_at = self._clock() + remaining_s - self._open_s
        if self._opened_at is not None and self._opened_at >= opened_at:
            return False
        self._opened_at = opened_at
        self._probing = False
        return True

    def close_remotely(self) -> None:
        """Another replica's probe succeeded: close without telling the listener back."""
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def release(self) -> None:
        """An attempt that ended without telling anything about the provider's health."""
        self._probing = False


class LatencyAverage:
    """Exponentially weighted mean of successful attempt latencies, in seconds."""

    def __init__(self, weight: float = 0.2) -> None:
        self._weight = weight
        self.value: float | None = None

    def observe(self, seconds: float) -> None:
        if self.value is None:
            self.value = seconds
        else:
            self.value += self._weight * (seconds - self.value)


class ProviderHealth:
    def __init__(self, breaker: CircuitBreaker) -> None:
        self.breaker = breaker
        self.latency = LatencyAverage()

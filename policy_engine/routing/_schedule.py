"""The order and timing of attempts: each candidate once, then retry rounds with backoff."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, Mapping, Sequence

from adapters import ProviderError
from policy_engine._config import RoutingSettings
from policy_engine.routing._health import ProviderHealth
from policy_engine.routing._plan import Candidate, backoff_delay, next_candidate


class Schedule:
    """Yields candidates: each once in plan order (diversity-aware), then retry rounds.

    Round r > 0 waits a full-jitter backoff, and never less than a provider's
    Retry-After; a candidate whose wait would pass the deadline is skipped, and one
    that rejected our credentials or whose circuit opened is not retried.
    """

    def __init__(
        self,
        settings: RoutingSettings,
        health: Mapping[str, ProviderHealth],
        rng: random.Random,
        plan: Sequence[Candidate],
        deadline: float,
    ) -> None:
        self._settings = settings
        self._health = health
        self._rng = rng
        self._plan = list(plan)
        self._deadline = deadline
        self._retry: list[Candidate] = []
        self._not_before: dict[str, float] = {}
        self._failed_here: list[Candidate] = []

    @property
    def deadline(self) -> float:
        """When the whole request must be over, in time.monotonic() terms."""
        return self._deadline

    def remaining(self) -> float:
        return self._deadline - time.monotonic()

    def deadline_loop_time(self) -> float:
        return asyncio.get_running_loop().time() + max(self.remaining(), 0.001)

    def failed(self, candidate: Candidate, error: ProviderError) -> None:
        self._failed_here.append(candidate)
        if error.retryable:
            self._retry.append(candidate)
            if error.retry_after is not None:
                self._not_before[candidate.id] = time.monotonic() + error.retry_after

    async def candidates(self) -> AsyncGenerator[Candidate, None]:
        """Close it when done early (contextlib.aclosing): a dropped async generator is
        finalized through call_soon_threadsafe, an extra wake-up of the loop."""
        settings = self._settings
        pending = list(self._plan)
        for round_index in range(settings.attempts_per_provider):
            if round_index:
                pending = [c for c in self._retry if self._health[c.id].breaker.available()]
                self._retry = []
                jitter = backoff_delay(
                    round_index - 1,
                    settings.backoff_base_s,
                    settings.backoff_max_s,
                    None,
                    self._rng,
                )
                round_start = time.monotonic() + jitter
            else:
                round_start = time.monotonic()
            while pending:
                candidate = next_candidate(pending, self._failed_here)
                pending.remove(candidate)
                start_at = max(round_start, self._not_before.get(candidate.id, 0.0))
                if start_at >= self._deadline:
                    continue
                wait = start_at - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not self._health[candidate.id].breaker.acquire():
                    continue
                yield candidate

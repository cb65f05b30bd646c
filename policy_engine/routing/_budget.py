"""One bound, shared by every request, on the provider-answer bytes held in memory.

Each answer is also bounded on its own (`routing.max_answer_bytes`), but a per-answer
cap alone lets many large answers at once take the process past its memory limit.
What counts: a non-streamed body from its first byte until the reply made of it is
written (its decoded and re-encoded copies are proportional to it), and what a stream
decoder holds of an event not yet complete.
"""

from __future__ import annotations

from adapters import ProviderError, ProviderErrorKind


class AnswerBudget:
    def __init__(self, limit_bytes: int) -> None:
        self.limit = limit_bytes
        self.held = 0
        self.refusals = 0  # read by the metrics

    def reservation(self) -> Reservation:
        return Reservation(self)


class Reservation:
    """One answer's share of the budget. `release` gives it back; so does dropping the
    reservation, for an answer whose reply is written and dropped, or lost to an error
    on the way (CPython frees it as its last reference goes)."""

    __slots__ = ("_budget", "held")

    def __init__(self, budget: AnswerBudget) -> None:
        self._budget = budget
        self.held = 0

    def __del__(self) -> None:
        self.release()

    def resize(self, size: int) -> None:
        """Hold `size` bytes in all, or fail the attempt as OVERLOADED if that would pass
        the budget: the router falls back, or answers 503 once no candidate is left."""
        budget = self._budget
        grow = size - self.held
        if grow > 0 and budget.held + grow > budget.limit:
            budget.refusals += 1
            raise ProviderError(
                ProviderErrorKind.OVERLOADED,
                "provider answers held in memory reached routing.max_buffered_answer_bytes",
            )
        budget.held += grow
        self.held = size

    def release(self) -> None:
        self._budget.held -= self.held
        self.held = 0

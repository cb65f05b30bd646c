"""What a call to the shared state raises, apart from its client: the limiter and the
circuits catch it without loading redis-py."""

from __future__ import annotations


class SharedStateUnavailable(Exception):
    """Redis could not answer in time; the caller takes its configured fallback."""

    def __init__(self, reason: str, retry_after_s: float) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s  # until Redis is tried again

"""The bound on a Redis call is on Redis, not on how busy this process is.

A sidecar on a loaded machine, or in a long callback, comes back to its event loop late
and finds the answer it waited for and the timer of its bound due together. It takes
the answer: Redis is not declared down, and every request sent to its fallback, for an
answer it gave in time. A held loop is that lag made exact: a callback that blocks, as
a starved process or a long loop turn does. Both loops: the sidecar serves on uvloop.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis
import uvloop

from policy_engine.fleet import RedisSettings, SharedState, SharedStateUnavailable
from tests.servers import RedisServer

TIMEOUT_S = 2.0  # room, on a loaded machine, to answer within it before holding past it
KEY = "pe:test:answer"
LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


async def connected(state: SharedState) -> None:
    """Connect first, so the call sends at once (a loaded machine may take tries)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            await state.call(lambda client: client.ping())
            return
        except SharedStateUnavailable:
            assert time.monotonic() < deadline, "could not connect to Redis"
            await asyncio.sleep(0.01)  # polling a condition with a bound, not a guess


class AnswerWhileHeld:
    """A loop callback: looks at Redis each turn; once the call's BLPOP waits there (and a
    few turns more, so the caller surely waits for its answer), has Redis answer it,
    then holds the loop until the call's bound has passed: answer and timer due together.
    """

    SETTLE_TURNS = 10

    def __init__(self, port: int, bound_passes_at: float) -> None:
        self._client = redis.Redis(port=port)
        self._bound_passes_at = bound_passes_at
        self._turns = 0
        self.answered_in_time: bool | None = None

    def __call__(self) -> None:
        if self._turns < self.SETTLE_TURNS:
            if self._client.info("clients")["blocked_clients"]:
                self._turns += 1
            asyncio.get_running_loop().call_soon(self)  # look again next turn
            return
        self._client.lpush(KEY, "answer")
        self.answered_in_time = time.monotonic() < self._bound_passes_at
        time.sleep(max(0.0, self._bound_passes_at - time.monotonic()) + 0.1)
        self._client.close()


@pytest.mark.parametrize("loop", LOOPS)
def test_an_answer_that_came_while_the_loop_was_held_is_taken(
    redis_server: RedisServer, loop: str
) -> None:
    async def scenario() -> tuple[Any, bool, AnswerWhileHeld]:
        settings = RedisSettings(url=redis_server.url, timeout_ms=TIMEOUT_S * 1000, retry_s=0.01)
        state = SharedState(settings, None)
        try:
            await connected(state)
            hold = AnswerWhileHeld(redis_server.port, time.monotonic() + TIMEOUT_S)
            call = asyncio.create_task(state.call(lambda client: client.blpop([KEY], 30)))
            asyncio.get_running_loop().call_soon(hold)
            try:
                return await call, state.up, hold
            except SharedStateUnavailable:
                return None, state.up, hold
        finally:
            await state.close()

    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        value, up, hold = runner.run(scenario())
    assert hold.answered_in_time, "the test was too slow to answer within the bound"
    assert (value, up) == ((KEY.encode(), b"answer"), True)

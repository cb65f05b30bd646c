"""Limit checks in Redis: Lua scripts, so replicas never race.

A script runs atomically on the server, so "check every limit, then take from every
bucket" happens as one step however many replicas ask at once; the server's own
clock (`TIME`) is the only clock, so the replicas' clocks do not matter. Admissions
asked for in the same event-loop turn go to Redis together, in one script call that
takes them in order: each still all or none, as if sent one by one, for one round
trip (the send and receive system calls were most of an admission's cost).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from policy_engine.fleet._checks import (
    NANO,
    WINDOW_S,
    BudgetAsk,
    CostSettle,
    RateAsk,
    TokenSettle,
    Verdict,
)
from policy_engine.fleet._errors import SharedStateUnavailable
from policy_engine.fleet._redis import Script, SharedState

# ARGV: window_ms, the number of requests, then per request: n_rate, n_budget, per rate
# (limit, cost), per budget (limit, refuse). KEYS: per request, its rate buckets, then
# its budget counters. A bucket's value is its GCRA "theoretical arrival time" in ms:
# full when <= now, empty when a minute ahead of now.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local window, requests = tonumber(ARGV[1]), tonumber(ARGV[2])
local a, k = 3, 0
local results = {}
for r = 1, requests do
  local n_rate, n_budget = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 2
  local refused, retry = 0, 0
  local tats, out = {}, {}
  for i = 1, n_rate do
    local limit, cost = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
    a = a + 2
    local interval = window / limit
    local tat = tonumber(redis.call('GET', KEYS[k + i]) or now)
    if tat < now then tat = now end
    local new = tat + cost * interval
    if refused == 0 and new - now > window then
      refused, retry = i, new - now - window
    end
    tats[i] = new
    out[i] = tostring((window - (new - now)) / window)
  end
  for j = 1, n_budget do
    local limit, refuse = tonumber(ARGV[a]), ARGV[a + 1]
    a = a + 2
    local spent = tonumber(redis.call('GET', KEYS[k + n_rate + j]) or 0)
    if refused == 0 and refuse == '1' and spent >= limit then refused = n_rate + j end
    out[n_rate + j] = tostring(1 - spent / limit)
  end
  if refused == 0 then
    for i = 1, n_rate do
      local ttl = math.ceil(tats[i] - now) + 1
      redis.call('SET', KEYS[k + i], string.format('%.3f', tats[i]), 'PX', ttl)
    end
  end
  results[r] = {refused, tostring(retry), out}
  k = k + n_rate + n_budget
end
return results
"""

# KEYS: the token buckets, then the budget counters.
# ARGV: n_rate, n_budget, window_ms, per rate (limit, delta), per budget (nano_usd, ttl_s).
_SETTLE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local n_rate, n_budget, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 1, n_rate do
  local limit, delta = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  tat = tat + delta * window / limit
  if tat > now then
    redis.call('SET', KEYS[i], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1)
  else
    redis.call('DEL', KEYS[i])
  end
end
local base = 3 + 2 * n_rate
for j = 1, n_budget do
  local key = KEYS[n_rate + j]
  redis.call('INCRBY', key, ARGV[base + 2 * j - 1])
  redis.call('EXPIRE', key, ARGV[base + 2 * j], 'NX')
end
return 1
"""

_WINDOW_MS = WINDOW_S * 1000


_Pending = tuple[Sequence[RateAsk], Sequence[BudgetAsk], "asyncio.Future[Verdict]"]


class RedisLimits:
    """The shared backend; every call may raise SharedStateUnavailable."""

    def __init__(self, state: SharedState) -> None:
        self._state = state
        self._admit = Script(_ADMIT)
        self._settle = Script(_SETTLE)
        self._pending: list[_Pending] = []

    async def admit(self, rates: Sequence[RateAsk], budgets: Sequence[BudgetAsk]) -> Verdict:
        loop = asyncio.get_running_loop()
        verdict: asyncio.Future[Verdict] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)  # after the others asking in this loop turn
        self._pending.append((rates, budgets, verdict))
        return await verdict

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        task.add_done_callback(_retrieve)

    async def _send(self, batch: list[_Pending]) -> None:
        keys: list[str] = []
        args: list[Any] = [_WINDOW_MS, len(batch)]
        for rates, budgets, _ in batch:
            keys += [ask.check.key for ask in rates]
            keys += [f"{ask.check.key}:{ask.window}" for ask in budgets]
            args += [len(rates), len(budgets)]
            for rate in rates:
                args += [rate.check.limit, rate.cost]
            for budget in budgets:
                args += [round(budget.check.limit * NANO), "1" if budget.refuse else "0"]
        try:
            results = await self._state.call(lambda client: self._admit.run(client, keys, args))
            for (_, _, verdict), (refused, retry, values) in zip(batch, results, strict=True):
                if not verdict.done():  # its requester may have gone
                    verdict.set_result(
                        Verdict(
                            refused=int(refused) - 1 if int(refused) else None,
                            retry_after_s=float(retry) / 1000,
                            left=[float(value) for value in values],
                        )
                    )
        except SharedStateUnavailable as error:
            for _, _, verdict in batch:
                if not verdict.done():
                    verdict.set_exception(error)
        finally:
            # Whatever else went wrong (a cancelled task at shutdown, a malformed reply),
            # no requester waits forever: each takes its fallback.
            for _, _, verdict in batch:
                if not verdict.done():
                    verdict.set_exception(SharedStateUnavailable("admission failed", 0.0))

    async def settle(self, tokens: Sequence[TokenSettle], costs: Sequence[CostSettle]) -> None:
        keys = [item.check.key for item in tokens]
        keys += [f"{item.check.key}:{item.window}" for item in costs]
        args: list[Any] = [len(tokens), len(costs), _WINDOW_MS]
        for token in tokens:
            args += [token.check.limit, token.delta]
        for cost in costs:
            args += [cost.nano_usd, cost.ttl_s]
        await self._state.call(lambda client: self._settle.run(client, keys, args))


def _retrieve(task: asyncio.Task[None]) -> None:
    """A batch's own failure is each requester's; nothing is left unretrieved."""
    if not task.cancelled():
        task.exception()

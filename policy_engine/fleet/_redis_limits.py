"""Limit checks in Redis: one Lua script per admission, so replicas never race.

A script runs atomically on the server, so "check every limit, then take from every
bucket" happens as one step however many replicas ask at once; the server's own
clock (`TIME`) is the only clock, so the replicas' clocks do not matter.
"""

from __future__ import annotations

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
from policy_engine.fleet._redis import Script, SharedState

# KEYS: the rate buckets, then the budget counters.
# ARGV: n_rate, n_budget, window_ms, then per rate (limit, cost), per budget (limit, refuse).
# A bucket's value is its GCRA "theoretical arrival time" in ms: full when <= now,
# empty when a minute ahead of now.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local n_rate, n_budget, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local refused, retry = 0, 0
local tats, out = {}, {}
for i = 1, n_rate do
  local limit, cost = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  local interval = window / limit
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new = tat + cost * interval
  if refused == 0 and new - now > window then
    refused, retry = i, new - now - window
  end
  tats[i] = new
  out[i] = tostring((window - (new - now)) / window)
end
local base = 3 + 2 * n_rate
for j = 1, n_budget do
  local limit, refuse = tonumber(ARGV[base + 2 * j - 1]), ARGV[base + 2 * j]
  local spent = tonumber(redis.call('GET', KEYS[n_rate + j]) or 0)
  if refused == 0 and refuse == '1' and spent >= limit then refused = n_rate + j end
  out[n_rate + j] = tostring(1 - spent / limit)
end
if refused == 0 then
  for i = 1, n_rate do
    redis.call('SET', KEYS[i], string.format('%.3f', tats[i]), 'PX', math.ceil(tats[i] - now) + 1)
  end
end
return {refused, tostring(retry), out}
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


class RedisLimits:
    """The shared backend; every call may raise SharedStateUnavailable."""

    def __init__(self, state: SharedState) -> None:
        self._state = state
        self._admit = Script(_ADMIT)
        self._settle = Script(_SETTLE)

    async def admit(self, rates: Sequence[RateAsk], budgets: Sequence[BudgetAsk]) -> Verdict:
        keys = [ask.check.key for ask in rates]
        keys += [f"{ask.check.key}:{ask.window}" for ask in budgets]
        args: list[Any] = [len(rates), len(budgets), _WINDOW_MS]
        for rate in rates:
            args += [rate.check.limit, rate.cost]
        for budget in budgets:
            args += [round(budget.check.limit * NANO), "1" if budget.refuse else "0"]
        refused, retry, values = await self._state.call(
            lambda client: self._admit.run(client, keys, args)
        )
        return Verdict(
            refused=int(refused) - 1 if int(refused) else None,
            retry_after_s=float(retry) / 1000,
            left=[float(value) for value in values],
        )

    async def settle(self, tokens: Sequence[TokenSettle], costs: Sequence[CostSettle]) -> None:
        keys = [item.check.key for item in tokens]
        keys += [f"{item.check.key}:{item.window}" for item in costs]
        args: list[Any] = [len(tokens), len(costs), _WINDOW_MS]
        for token in tokens:
            args += [token.check.limit, token.delta]
        for cost in costs:
            args += [cost.nano_usd, cost.ttl_s]
        await self._state.call(lambda client: self._settle.run(client, keys, args))

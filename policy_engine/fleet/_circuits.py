"""Provider circuits shared across replicas through Redis.

When this replica's own attempts open a provider's circuit, it writes
`<prefix>c:<provider>` with the open time as the key's expiry. Every replica reads all
of them every `circuits.sync_interval_ms` (one round trip) and opens its own breaker
for what is left, so the others skip the provider within one interval; once the time
is up, each lets one probe through as usual. A probe that succeeds deletes the key,
and the others close their circuit at their next read. Local breakers go on working
alone while Redis is down; an open or close this replica could not write then is
written at its next read that reaches Redis, and until it is written, what a read
finds in Redis (older news) does not undo it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from policy_engine.fleet._errors import SharedStateUnavailable
from policy_engine.fleet._metrics import FleetMetrics
from policy_engine.telemetry import get_logger

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from policy_engine.fleet._redis import SharedState

_log = get_logger("policy_engine.fleet")


class BreakerListener(Protocol):
    def opened(self, open_s: float) -> None: ...

    def closed(self) -> None: ...


class SharedBreaker(Protocol):
    """What is needed of routing's CircuitBreaker (the fleet does not import routing)."""

    listener: BreakerListener | None

    def open_remotely(self, remaining_s: float) -> bool: ...

    def close_remotely(self) -> None: ...


class _Publisher:
    """The listener on one provider's breaker: writes its opens and closes to Redis."""

    def __init__(self, sync: CircuitSync, provider: str) -> None:
        self._sync = sync
        self._provider = provider

    def opened(self, open_s: float) -> None:
        self._sync.publish(self._provider, open_s)

    def closed(self) -> None:
        self._sync.publish(self._provider, None)


class CircuitSync:
    def __init__(
        self,
        state: SharedState,
        breakers: Mapping[str, SharedBreaker],
        replica: str,
        interval_s: float,
        metrics: FleetMetrics,
        on_change: Callable[[str, str], None] | None = None,
    ) -> None:
        self._state = state
        self._on_change = on_change  # (provider, "open" | "closed"): the circuit gauge
        self._breakers = dict(breakers)
        self._replica = replica
        self._interval = interval_s
        self._metrics = metrics
        self._keys = {p: f"{state.prefix}c:{p}" for p in self._breakers}
        # When each shared open this replica knows of ends (monotonic): its own, as it
        # wrote it, or another replica's, as it applied it. A key read back within one
        # interval of that is the same open, not news.
        self._ends: dict[str, float] = {}
        self._remote: set[str] = set()  # of those, the ones another replica opened
        # This replica's own opens and closes, counted per provider, and the providers
        # whose latest one Redis does not hold yet: a read sent before it was written
        # shows the key as it was, and must not undo it.
        self._changes = dict.fromkeys(self._breakers, 0)
        self._unwritten: set[str] = set()
        self._writing: dict[str, asyncio.Task[None]] = {}
        self._writes: set[asyncio.Task[None]] = set()
        for provider, breaker in self._breakers.items():
            breaker.listener = _Publisher(self, provider)

    def publish(self, provider: str, open_s: float | None) -> None:
        self._remote.discard(provider)
        if open_s is None:
            self._ends.pop(provider, None)
        else:
            self._ends[provider] = time.monotonic() + open_s
        self._changes[provider] += 1
        self._unwritten.add(provider)
        self._write_soon(provider)

    def _write_soon(self, provider: str) -> None:
        write = self._write(provider, self._changes[provider])
        task = asyncio.get_running_loop().create_task(write)
        self._writing[provider] = task
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, provider: str, change: int) -> None:
        """Write this replica's view of `provider` as it is now: open until when, or closed."""
        key = self._keys[provider]
        ends = self._ends.get(provider)
        try:
            if ends is None:
                await self._state.call(lambda client: client.delete(key))
            elif (milliseconds := round((ends - time.monotonic()) * 1000)) > 0:
                await self._state.call(
                    lambda client: client.set(key, self._replica, px=milliseconds)
                )
                _log.info("circuit_shared", provider=provider, open_s=milliseconds / 1000)
        except SharedStateUnavailable:
            return  # written at the next read that reaches Redis
        if self._changes[provider] == change:
            self._unwritten.discard(provider)

    async def read_once(self) -> None:
        """Apply the shared state to the local breakers (one round trip)."""
        providers = list(self._keys)

        async def ttls(client: aioredis.Redis) -> list[int]:
            pipe = client.pipeline(transaction=False)
            for provider in providers:
                pipe.pttl(self._keys[provider])
            result: list[int] = await pipe.execute()
            return result

        changes = dict(self._changes)
        try:
            remaining = await self._state.call(ttls)
        except SharedStateUnavailable:
            return
        now = time.monotonic()
        for provider, ttl_ms in zip(providers, remaining, strict=True):
            if provider in self._unwritten or self._changes[provider] != changes[provider]:
                continue  # this replica's own open or close is newer than what was read
            breaker = self._breakers[provider]
            if ttl_ms > 0:
                ends = now + ttl_ms / 1000
                known = self._ends.get(provider)
                if known is not None and ends <= known + self._interval:
                    continue
                self._ends[provider] = ends
                if breaker.open_remotely(ttl_ms / 1000):
                    self._remote.add(provider)
                    self._metrics.circuit_syncs.labels(provider).inc()
                    self._changed(provider, "open")
                    _log.warning("circuit_opened_by_fleet", provider=provider)
                continue
            ends_at = self._ends.pop(provider, None)
            self._remote.discard(provider)
            if ends_at is not None and now < ends_at - self._interval:
                # Deleted before its time: a replica's probe succeeded. A key that
                # expired leaves the breaker to its own half-open probe.
                breaker.close_remotely()
                self._changed(provider, "closed")
        for provider in self._unwritten:
            writing = self._writing.get(provider)
            if writing is None or writing.done():
                self._write_soon(provider)  # Redis answers again: write what it missed

    def _changed(self, provider: str, state: str) -> None:
        if self._on_change is not None:
            self._on_change(provider, state)

    async def run(self) -> None:
        while True:
            await self.read_once()
            await asyncio.sleep(self._interval)

    async def flush(self) -> None:
        """Wait for the opens and closes already handed to Redis."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    async def close(self) -> None:
        for breaker in self._breakers.values():
            breaker.listener = None
        await self.flush()

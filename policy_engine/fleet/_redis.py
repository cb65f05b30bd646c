"""The one Redis connection of a sidecar: bounded calls, and a fast "down" state.

Every call is bounded by `redis.timeout_ms`, connecting included. After a failure,
Redis is treated as down for `redis.retry_s`: callers get `SharedStateUnavailable` at
once (no socket, no wait) and take their fallback, so an unreachable or stalled Redis
costs a request at most one timeout, and most requests none. Transitions are logged
and exported as `policy_engine_redis_up`.

The bound is on Redis, not on how busy this process is: a sidecar on a loaded machine,
or in a long callback, must not declare a healthy Redis down for an answer it was too
slow to read, and send its requests to the fallbacks for `retry_s` (see `call`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from pydantic import SecretStr
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError

from policy_engine.fleet._errors import SharedStateUnavailable
from policy_engine.fleet._settings import RedisSettings
from policy_engine.telemetry import get_logger

_log = get_logger("policy_engine.fleet")

T = TypeVar("T")


class Script:
    """A Lua script run by its SHA, loaded again if the server lost it (a restart)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._sha: str | None = None

    async def run(self, client: aioredis.Redis, keys: Sequence[str], args: Sequence[Any]) -> Any:
        if self._sha is None:
            self._sha = await client.script_load(self.source)
        try:
            return await client.evalsha(self._sha, len(keys), *keys, *args)
        except NoScriptError:
            self._sha = await client.script_load(self.source)
            return await client.evalsha(self._sha, len(keys), *keys, *args)


class SharedState:
    def __init__(
        self,
        settings: RedisSettings,
        password: SecretStr | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prefix = settings.key_prefix
        self._timeout = settings.timeout_ms / 1000
        self._retry_s = settings.retry_s
        self._clock = clock
        self._down_until = 0.0
        self._up = True
        # A bounded pool that makes a request wait (within the call's bound) for a free
        # connection: redis-py's default pool raises at once when it is full, which
        # would read as Redis being down under a burst of requests. The call's bound
        # is the only timeout: redis-py's own would fire with it when the loop lags
        # and throw away a reply already received (see `call`).
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.url,
            max_connections=settings.max_connections,
            timeout=None,
            password=password.get_secret_value() if password else None,
            socket_timeout=None,
            socket_connect_timeout=None,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        self._client = aioredis.Redis(connection_pool=pool, decode_responses=False)

    @property
    def up(self) -> bool:
        """False while Redis is known to be unreachable (until the next try)."""
        return self._up

    async def call(self, operation: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        """Run `operation` on the client within the timeout, or raise SharedStateUnavailable."""
        now = self._clock()
        if now < self._down_until:
            raise SharedStateUnavailable("redis is down", self._down_until - now)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(None) as bound:
                # A loop that comes back late finds the reply and the bound due in the
                # same turn; it reads the reply first, but the wakeup of its reader
                # waits for the next turn, and a plain timeout cancelled the call in
                # this one. Expiring one turn later takes a reply that came in time.
                expiry = loop.call_later(self._timeout, _expire, bound, loop)
                try:
                    result = await operation(self._client)
                finally:
                    expiry.cancel()
        except (RedisError, OSError, TimeoutError) as error:
            self._mark_down(error)
            raise SharedStateUnavailable(type(error).__name__, self._retry_s) from None
        if not self._up:
            self._up = True
            _log.info("redis_recovered")
        return result

    def _mark_down(self, error: BaseException) -> None:
        self._down_until = self._clock() + self._retry_s
        if self._up:
            self._up = False
            _log.error(
                "redis_unavailable",
                error=type(error).__name__,
                retry_s=self._retry_s,
                hint="limits and circuits use their configured fallbacks",
            )

    async def close(self) -> None:
        await self._client.aclose()
        await self._client.connection_pool.disconnect()


def _expire(bound: asyncio.Timeout, loop: asyncio.AbstractEventLoop) -> None:
    bound.reschedule(loop.time())  # due now: queued behind the wakeups this turn made

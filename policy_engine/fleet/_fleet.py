"""What one sidecar shares with the others, built once from the settings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from policy_engine.fleet._circuits import CircuitSync, SharedBreaker
from policy_engine.fleet._limiter import Limiter
from policy_engine.fleet._metrics import FleetMetrics
from policy_engine.fleet._settings import FleetSettings

if TYPE_CHECKING:
    from policy_engine.fleet._redis import SharedState
    from policy_engine.fleet._redis_limits import RedisLimits


@dataclass(slots=True)
class Fleet:
    replica: str
    metrics: FleetMetrics
    limiter: Limiter | None = None  # None when no limit is configured
    state: SharedState | None = None  # None without Redis
    circuits: CircuitSync | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        settings: FleetSettings,
        replica: str,
        redis_password: SecretStr | None,
        prices: Mapping[str, tuple[float, float]],
        breakers: Mapping[str, SharedBreaker],
        registry: CollectorRegistry,
        on_circuit: Callable[[str, str], None] | None = None,
    ) -> Fleet:
        fleet = cls(replica, FleetMetrics(registry))
        shared_limits: RedisLimits | None = None
        if settings.redis is not None:
            # Imported only with Redis configured: redis-py takes tens of MB per process,
            # and a sidecar alone has no use for it.
            from policy_engine.fleet._redis import SharedState
            from policy_engine.fleet._redis_limits import RedisLimits

            state = fleet.state = SharedState(settings.redis, redis_password)
            fleet.metrics.redis_up.set_function(lambda: float(state.up))
            if settings.limits.enabled:
                shared_limits = RedisLimits(state)
        if settings.limits.enabled:
            fleet.limiter = Limiter(
                settings.limits,
                shared_limits,
                prices,
                fleet.metrics,
                prefix=settings.redis.key_prefix if settings.redis else "pe:",
            )
        if fleet.state is not None and settings.circuits.shared:
            fleet.circuits = CircuitSync(
                fleet.state,
                breakers,
                replica,
                settings.circuits.sync_interval_ms / 1000,
                fleet.metrics,
                on_circuit,
            )
            fleet._tasks.append(asyncio.get_running_loop().create_task(fleet.circuits.run()))
        return fleet

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.limiter is not None:
            await self.limiter.close()
        if self.circuits is not None:
            await self.circuits.close()
        if self.state is not None:
            await self.state.close()

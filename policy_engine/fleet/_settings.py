"""Settings for the state a fleet of sidecars shares: Redis, limits and circuits."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

LimitName = Literal[
    "requests_per_minute", "tokens_per_minute", "cost_per_day_usd", "cost_per_month_usd"
]
RATE_LIMITS: tuple[LimitName, ...] = ("requests_per_minute", "tokens_per_minute")
BUDGETS: tuple[LimitName, ...] = ("cost_per_day_usd", "cost_per_month_usd")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RedisSettings(_Strict):
    url: str = Field(description="redis:// or rediss:// URL, without a password")
    password_env: str | None = Field(None, description="Environment variable holding the password")
    password_file: Path | None = Field(None, description="File holding the password")
    timeout_ms: float = Field(
        250, gt=0, le=5000, description="Bound on every Redis call, connecting included"
    )
    retry_s: float = Field(
        1.0, gt=0, description="After a failure, Redis is skipped this long, then tried again"
    )
    key_prefix: str = Field("pe:", pattern=r"^[A-Za-z0-9:_.-]{0,32}$")
    max_connections: int = Field(
        32, ge=1, le=1024, description="Connections per sidecar; a request waits for a free one"
    )

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise ValueError("must be a redis:// or rediss:// URL with a host")
        if parts.password:
            raise ValueError("must not carry a password; use password_env or password_file")
        return value

    @model_validator(mode="after")
    def _one_password_source(self) -> RedisSettings:
        if self.password_env and self.password_file:
            raise ValueError("set password_env or password_file, not both")
        return self


class Limits(_Strict):
    """Limits for one tenant or caller; an unset limit does not apply."""

    requests_per_minute: int | None = Field(None, gt=0)
    tokens_per_minute: int | None = Field(None, gt=0)
    cost_per_day_usd: float | None = Field(None, gt=0)
    cost_per_month_usd: float | None = Field(None, gt=0)

    def values(self) -> dict[LimitName, float]:
        named: dict[LimitName, float | None] = {
            "requests_per_minute": self.requests_per_minute,
            "tokens_per_minute": self.tokens_per_minute,
            "cost_per_day_usd": self.cost_per_day_usd,
            "cost_per_month_usd": self.cost_per_month_usd,
        }
        return {name: float(value) for name, value in named.items() if value is not None}


RateFallback = Literal["local", "fail_closed", "allow"]


class UnavailableBehaviour(_Strict):
    """What each feature does while Redis cannot be reached (every case is audited)."""

    rate_limits: RateFallback = Field(
        "local", description="local: each replica enforces local_share of each rate limit"
    )
    budgets: RateFallback = Field(
        "fail_closed", description="fail_closed: a request under a cost budget is refused (503)"
    )


class LimitsSettings(_Strict):
    tenants: dict[str, Limits] = Field(default_factory=dict, description="Per tenant id")
    tenant_default: Limits = Field(
        default_factory=Limits, description="For every tenant without an entry (each its own)"
    )
    callers: dict[str, Limits] = Field(
        default_factory=dict, description="Per caller token name (server.auth.tokens[].name)"
    )
    budget_exhausted: Literal["refuse", "policy"] = Field(
        "refuse",
        description="refuse: 429; policy: let the policy decide (input.budget.exhausted)",
    )
    policy_input: Literal["exhausted", "remaining"] = Field(
        "exhausted",
        description="What input.budget shows: the exhausted budgets, or also each limit's "
        "remaining fraction in tenths (more distinct inputs, fewer decision cache hits)",
    )
    output_tokens_estimate: int = Field(
        256, gt=0, description="Output tokens reserved for a request without max_tokens"
    )
    local_share: float = Field(
        1.0, gt=0, le=1, description="Share of each limit a replica enforces alone (local mode)"
    )
    on_redis_unavailable: UnavailableBehaviour = Field(default_factory=UnavailableBehaviour)

    @property
    def enabled(self) -> bool:
        return bool(
            self.tenant_default.values()
            or any(limits.values() for limits in self.tenants.values())
            or any(limits.values() for limits in self.callers.values())
        )


class CircuitSettings(_Strict):
    shared: bool = Field(True, description="Share open circuits through Redis when it is set")
    sync_interval_ms: float = Field(
        250, gt=0, le=1000, description="How often each replica reads the shared circuit state"
    )


class FleetSettings(_Strict):
    replica: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$",
        description="This replica's name; default: POLICY_ENGINE_REPLICA, else the host name",
    )
    redis: RedisSettings | None = None
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    circuits: CircuitSettings = Field(default_factory=CircuitSettings)

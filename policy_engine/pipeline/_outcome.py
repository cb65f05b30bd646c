"""What happened to one request, gathered as it passes the stages, then audited and logged."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from adapters import Usage
from policy_engine._context import RoutingContext
from policy_engine.decision import PolicyDecision
from policy_engine.routing import Attempt


@dataclass(slots=True)
class RequestOutcome:
    request_id: str
    protocol: str
    started: float = field(default_factory=time.perf_counter)
    caller: str | None = None
    tenant: str | None = None
    context: RoutingContext | None = None
    decision: PolicyDecision | None = None
    attempts: list[Attempt] = field(default_factory=list)
    outcome: str = "pending"
    status: int = 0
    error_type: str | None = None
    provider: str | None = None
    redactions: dict[str, int] = field(default_factory=dict)
    unredactable: list[str] = field(default_factory=list)  # obligations sent unmet (record mode)
    skipped: dict[str, str] = field(default_factory=dict)  # allowed provider -> why left out
    usage: Usage | None = None
    audited: bool = False

    def audit_event(self) -> dict[str, Any]:
        """The audit record body: ids, constraints, reasons, counts; never content or values."""
        return {
            "request_id": self.request_id,
            "protocol": self.protocol,
            "caller": self.caller,
            "tenant": self.tenant,
            "context": None if self.context is None else self.context.summary(),
            "policy": None if self.decision is None else self.decision.summary(),
            "attempts": [a.summary() for a in self.attempts],
            "provider": self.provider,
            "outcome": self.outcome,
            "status": self.status,
            "error_type": self.error_type,
            "redactions": dict(sorted(self.redactions.items())),
            "unredactable": self.unredactable,
            "skipped": self.skipped,
            "usage": None
            if self.usage is None
            else {
                "input_tokens": self.usage.input_tokens,
                "output_tokens": self.usage.output_tokens,
            },
        }

    def log_fields(self) -> dict[str, Any]:
        decision = self.decision
        return {
            "request_id": self.request_id,
            "protocol": self.protocol,
            "caller": self.caller,
            "tenant": self.tenant,
            "outcome": self.outcome,
            "status": self.status,
            "provider": self.provider,
            "attempts": [f"{a.provider}:{a.outcome}" for a in self.attempts],
            "allowed": None if decision is None else list(decision.allowed),
            "denied": None if decision is None else sorted(decision.denied),
            "policy_revision": None if decision is None else decision.revision,
            "redactions": self.redactions,
            "latency_ms": round((time.perf_counter() - self.started) * 1000, 3),
        }

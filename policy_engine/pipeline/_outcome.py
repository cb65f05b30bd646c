"""What happened to one request, gathered as it passes the stages, then audited and logged.

Two records come of it: the intent (the decision and the route, durable before any byte
leaves for a provider) and the outcome (every attempt, the result, the usage), which
names its intent by seq. Both hold ids, constraints, reasons and counts, never content.
Values a provider reported are checked where they enter (`checked_usage`), so a record
can always be canonicalised and a metric never refuses one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters import Usage
from policy_engine._context import RoutingContext
from policy_engine.decision import PolicyDecision
from policy_engine.fleet import NO_BUDGET, Admission
from policy_engine.routing import Attempt, Candidate

# The integers RFC 8785 (and so a record) can hold exactly.
MAX_COUNT = 2**53 - 1


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
    model: str | None = None  # the answering model (X-Routed-Model)
    fallback: str | None = None  # why not the first candidate (X-Fallback); None if it was
    price: tuple[float, float] | None = None  # USD per 1M input, output tokens of the answer
    response_model: str | None = None  # the provider's name for it, for traces only
    redactions: dict[str, int] = field(default_factory=dict)
    unredactable: list[str] = field(default_factory=list)  # obligations sent unmet (record mode)
    skipped: dict[str, str] = field(default_factory=dict)  # allowed provider -> why left out
    usage: Usage | None = None  # checked: every count a non-negative record-safe integer
    usage_estimated: bool = False  # the provider reported none (Gemini embeddings)
    invalid: dict[str, str] = field(default_factory=dict)  # provider values refused, described
    intent_seq: int | None = None  # the intent record's seq, once durable
    limits: Admission | None = None  # the pass through the tenant's and caller's limits
    audited: bool = False

    def checked_usage(self, usage: Usage) -> Usage:
        """`usage` with each count a provider got wrong (negative, beyond 2**53 - 1, not an
        integer) as 0, described in `invalid`: the record, the metrics and the client's
        answer can all hold what comes back."""
        if is_count(usage.input_tokens) and is_count(usage.output_tokens):
            return usage
        return Usage(
            self._count("usage.input_tokens", usage.input_tokens),
            self._count("usage.output_tokens", usage.output_tokens),
        )

    def _count(self, name: str, value: object) -> int:
        if type(value) is int and is_count(value):
            return value
        self.invalid[name] = describe(value)
        return 0

    def intent_event(self, plan: Sequence[Candidate]) -> dict[str, Any]:
        """The write-ahead record: who asked, under which decision, and where it may go."""
        decision = self.decision
        return {
            "request_id": self.request_id,
            "protocol": self.protocol,
            "caller": self.caller,
            "tenant": self.tenant,
            "context": None if self.context is None else self.context.summary(),
            "policy": None
            if decision is None
            else {"revision": decision.revision, "allowed": list(decision.allowed)},
            "candidates": [
                {"provider": c.id, "model": c.model, "redact": sorted(c.redact)} for c in plan
            ],
            "redactions": dict(sorted(self.redactions.items())),
            "unredactable": self.unredactable,
        }

    def audit_event(self, catalog: str | None = None) -> dict[str, Any]:
        """The outcome record body: ids, constraints, reasons, counts; never content or values.

        `input` holds what the policy saw beyond `tenant` and `context` (which is
        `input.request`): the budget view and the revision of the provider catalog
        (`decision.keep_catalog`), so the decision can be replayed (`policy impact`).
        """
        context = self.context
        event: dict[str, Any] = {
            "request_id": self.request_id,
            "intent_seq": self.intent_seq,
            "protocol": self.protocol,
            "caller": self.caller,
            "tenant": self.tenant,
            "context": None if context is None else context.summary(),
            "input": None
            if context is None
            else {"budget": (context.budget or NO_BUDGET).policy_input(), "catalog": catalog},
            "policy": None if self.decision is None else self.decision.summary(),
            "attempts": [a.summary() for a in self.attempts],
            "provider": self.provider,
            "model": self.model,
            "fallback": self.fallback,
            "outcome": self.outcome,
            "status": self.status,
            "error_type": self.error_type,
            "redactions": dict(sorted(self.redactions.items())),
            "unredactable": self.unredactable,
            "skipped": self.skipped,
            "price": None
            if self.price is None
            else {"input_per_1m": self.price[0], "output_per_1m": self.price[1]},
            "usage": None if self.usage is None else self._usage_summary(self.usage),
            "invalid": self.invalid,
        }
        if self.limits is not None:
            event["limits"] = self.limits.summary()
        return event

    def _usage_summary(self, usage: Usage) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
        }
        if self.usage_estimated:
            summary["estimated"] = True
        return summary

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
            "model": self.model,
            "fallback": self.fallback,
            "attempts": [f"{a.provider}:{a.outcome}" for a in self.attempts],
            "allowed": None if decision is None else list(decision.allowed),
            "denied": None if decision is None else sorted(decision.denied),
            "policy_revision": None if decision is None else decision.revision,
            "redactions": self.redactions,
            "latency_ms": round((time.perf_counter() - self.started) * 1000, 3),
        }


def is_count(value: object) -> bool:
    return type(value) is int and 0 <= value <= MAX_COUNT


def describe(value: object) -> str:
    """A bounded, content-free description of a value refused at the record boundary."""
    if type(value) is int:
        # str() of a very long integer raises (and would be unbounded): its size instead.
        return str(value) if value.bit_length() <= 64 else f"int of {value.bit_length()} bits"
    if type(value) is float:
        return repr(value) if math.isfinite(value) else "float, not finite"
    if type(value) is str:
        return f"str of {len(value)} characters"  # its text could be anything
    return type(value).__name__[:32]

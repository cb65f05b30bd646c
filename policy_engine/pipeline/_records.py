"""A request's audit records, and the metrics and log line that follow its outcome.

The intent is written once, before the first byte of the request leaves for a
provider; the outcome once, when the request is settled, and before anything else:
the metrics and the log line follow it, so nothing they do can cost the record.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from typing import Any, Protocol

from policy_engine._config import Settings
from policy_engine._context import provider_catalog
from policy_engine._errors import AuditWriteFailed
from policy_engine.audit import UNRECORDED, AuditError, AuditUnavailable, RecordKind
from policy_engine.decision import keep_catalog
from policy_engine.pipeline._outcome import RequestOutcome
from policy_engine.redaction import RedactionSession
from policy_engine.routing import Candidate
from policy_engine.telemetry import (
    EMBEDDINGS,
    OPERATION,
    EventLogger,
    GenAICall,
    Metrics,
    Tracer,
    get_logger,
    provider_name,
)

_log = get_logger("policy_engine.request")
_request_line = EventLogger("policy_engine.request", "request")

AUDIT_FAILED = "audit_failed"
"""The outcome of a request refused because one of its records could not be made durable."""


class AuditSink(Protocol):
    def submit(self, event: dict[str, Any], kind: RecordKind = "request") -> asyncio.Future[int]:
        """Queue the record; the future resolves to its seq once it is durable."""
        ...

    @property
    def healthy(self) -> bool: ...

    async def close(self) -> None: ...


class Recorder:
    def __init__(
        self, settings: Settings, audit: AuditSink, metrics: Metrics, tracer: Tracer
    ) -> None:
        self._settings = settings
        self._audit = audit
        self._metrics = metrics
        self._tracer = tracer
        # The catalog every decision's input holds, kept once beside the log: each
        # outcome record names it by revision (`input.catalog`), for replays.
        self._catalog = keep_catalog(settings.audit.dir, provider_catalog(settings))

    async def intent(
        self, outcome: RequestOutcome, plan: list[Candidate], session: RedactionSession
    ) -> None:
        """The intent record: durable, or AuditWriteFailed and nothing is sent."""
        outcome.redactions = session.counts
        with self._tracer.span("intent"):
            outcome.intent_seq = await self._record(outcome, outcome.intent_event(plan), "intent")

    async def outcome(self, outcome: RequestOutcome, result: str, status: int) -> None:
        """Write the one outcome record; raise AuditWriteFailed when it cannot be made durable.

        The record goes first: the metrics and the log line follow it, so nothing they
        do can cost it.
        """
        outcome.outcome, outcome.status = result, status
        if outcome.audited:
            return
        outcome.audited = True
        try:
            with self._tracer.span("audit"):
                await self._record(outcome, outcome.audit_event(self._catalog), "request")
        except AuditWriteFailed:
            # What the client gets instead, for the request's count and log line below.
            outcome.outcome, outcome.status = AUDIT_FAILED, AuditWriteFailed.status
            raise
        finally:
            self._observe(outcome)
            _request_line(outcome.log_fields())

    async def _record(
        self, outcome: RequestOutcome, event: dict[str, Any], kind: RecordKind
    ) -> int | None:
        """Make one record durable: its seq, or None when `fail_open` let it go unrecorded.

        A client that leaves while this waits cancels only the wait: the record was
        queued when `submit` returned.
        """
        try:
            with self._metrics.audit_seconds.time():
                seq = await self._durable(event, kind)
        except AuditError:
            self._metrics.audit_failures.inc()
            _log.error(
                "audit_unavailable",
                request_id=outcome.request_id,
                record=kind,
                hint="the audit log cannot be written; failing closed",
            )
            raise AuditWriteFailed(
                "the audit log is unavailable; the request was not served"
            ) from None
        if seq == UNRECORDED:
            self._metrics.audit_failures.inc()
            _log.warning(
                "audit_unrecorded",
                request_id=outcome.request_id,
                record=kind,
                hint="audit.on_failure is fail_open: served without this record",
            )
            return None
        return seq

    async def _durable(self, event: dict[str, Any], kind: RecordKind) -> int:
        try:
            return await self._audit.submit(event, kind)
        except AuditUnavailable:
            raise
        except AuditError:
            # The log could not canonicalise the event: a value that no stage should have
            # let through. The request is still recorded, by its ids and outcome, as invalid.
            _log.error("audit_event_invalid", request_id=event.get("request_id"), record=kind)
            return await self._audit.submit(_reduced(event), kind)

    def _observe(self, outcome: RequestOutcome) -> None:
        """The request's metrics, after its record is settled."""
        try:
            self._metrics.request_seconds_by(outcome.protocol).observe(
                time.perf_counter() - outcome.started
            )
            for entity_type, count in outcome.redactions.items():
                self._metrics.redactions_by(entity_type).inc(count)
            if outcome.fallback is not None:
                self._metrics.fallbacks_by(outcome.fallback).inc()
            self._count_usage(outcome)
            if self._tracer.enabled:
                self._gen_ai_calls(outcome)
            self._metrics.requests_by(outcome.protocol, outcome.outcome).inc()
        except Exception as error:  # noqa: BLE001 - a metric must never cost an answer
            _log.error(
                "metrics_failed",
                request_id=outcome.request_id,
                error=type(error).__name__,
                at=error_location(error),
            )

    def _count_usage(self, outcome: RequestOutcome) -> None:
        if outcome.usage is None or outcome.provider is None:
            return
        usage, provider = outcome.usage, outcome.provider
        self._metrics.tokens_by(provider, "input").inc(usage.input_tokens)
        self._metrics.tokens_by(provider, "output").inc(usage.output_tokens)
        if outcome.price is not None:
            price_in, price_out = outcome.price
            cost = (usage.input_tokens * price_in + usage.output_tokens * price_out) / 1_000_000
            self._metrics.cost_by(provider).inc(cost)

    def _gen_ai_calls(self, outcome: RequestOutcome) -> None:
        """Each attempt in the GenAI client metrics; the answer's with its token usage."""
        now = time.perf_counter()
        context = outcome.context
        operation = EMBEDDINGS if context and context.operation == "embeddings" else OPERATION
        for attempt in outcome.attempts:
            adapter = self._settings.provider(attempt.provider).adapter
            if attempt.outcome == "ok":
                usage = outcome.usage
                call = GenAICall(
                    provider_name(adapter),
                    attempt.model,
                    now - attempt.started,
                    outcome.response_model,
                    None if usage is None else usage.input_tokens,
                    None if usage is None else usage.output_tokens,
                    operation=operation,
                )
            else:
                error = attempt.outcome
                call = GenAICall(
                    provider_name(adapter),
                    attempt.model,
                    attempt.latency_ms / 1000,
                    error_type=error,
                    operation=operation,
                )
            self._tracer.gen_ai(call)


def error_location(error: BaseException) -> str:
    """file:line of the innermost frame; the message may hold request content, so it is dropped."""
    frames = traceback.extract_tb(error.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"


# What an outcome record keeps when its event cannot be canonicalised: ids and outcome,
# all of them values the sidecar made itself.
_REDUCED = (
    "request_id",
    "intent_seq",
    "protocol",
    "caller",
    "tenant",
    "provider",
    "outcome",
    "status",
    "error_type",
)


def _reduced(event: dict[str, Any]) -> dict[str, Any]:
    kept = {key: event[key] for key in _REDUCED if key in event}
    kept["invalid"] = {"event": "could not be canonicalised; reduced to its ids and outcome"}
    return kept

"""One request, start to finish: context → decision → plan → attempts → answer → audit.

No HTTP framework here: the API layer hands in the protocol, headers and body bytes
and gets back a reply to send. Every request that reaches `handle` gets exactly one
audit record, and an answer is released only after its record is durable.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import traceback
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from adapters import (
    CLIENT_PROTOCOLS,
    ChatRequest,
    ClientCodec,
    InvalidRequest,
    ProviderError,
    ProviderErrorKind,
    StreamEnd,
    StreamEvent,
    StreamStart,
    Usage,
    client_codec,
)
from policy_engine._auth import Authenticator, TenantForbidden, Unauthenticated
from policy_engine._config import Settings
from policy_engine._context import read_routing_headers, routing_context
from policy_engine._errors import (
    AuditWriteFailed,
    BadRequest,
    InternalError,
    ObligationUnmet,
    PolicyDenied,
    PolicyEngineError,
    PolicyUnavailable,
    ProviderRejected,
    ProvidersUnavailable,
    UnknownModel,
)
from policy_engine.audit import AuditError
from policy_engine.decision import Decider, PolicyDecision
from policy_engine.pipeline._outcome import RequestOutcome
from policy_engine.redaction import RedactionSession, Redactor
from policy_engine.routing import Candidate, Router, StreamRoute
from policy_engine.telemetry import EventLogger, Metrics, Tracer, get_logger

_log = get_logger("policy_engine.request")
_request_line = EventLogger("policy_engine.request", "request")

_OUTCOMES: dict[type[PolicyEngineError], str] = {
    BadRequest: "bad_request",
    UnknownModel: "bad_request",
    PolicyUnavailable: "failed_closed",
    PolicyDenied: "denied",
    ProvidersUnavailable: "all_failed",
    ProviderRejected: "provider_rejected",
    AuditWriteFailed: "audit_failed",
    ObligationUnmet: "failed_closed",
    InternalError: "internal_error",
    Unauthenticated: "unauthenticated",
    TenantForbidden: "forbidden",
}


@dataclass(slots=True)
class JsonReply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class StreamReply:
    body: AsyncGenerator[bytes, None]
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200


Reply = JsonReply | StreamReply


class AuditSink(Protocol):
    def submit(self, event: dict[str, Any]) -> asyncio.Future[int]:
        """Queue the record; the future resolves once it is durable."""
        ...

    @property
    def healthy(self) -> bool: ...

    async def close(self) -> None: ...


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        decider: Decider,
        router: Router,
        redactor: Redactor,
        audit: AuditSink,
        metrics: Metrics,
        authenticator: Authenticator,
        tracer: Tracer,
    ) -> None:
        self._tracer = tracer
        self._settings = settings
        self._auth = authenticator
        self._decider = decider
        self._router = router
        self._redactor = redactor
        self._audit = audit
        self._metrics = metrics
        self._codecs: dict[str, ClientCodec] = {p: client_codec(p) for p in CLIENT_PROTOCOLS}
        self._aliases = frozenset(alias for p in settings.providers for alias in p.models)

    @property
    def aliases(self) -> frozenset[str]:
        return self._aliases

    async def handle(self, protocol: str, headers: Mapping[str, str], body: bytes) -> Reply:
        outcome = RequestOutcome(request_id=request_id(), protocol=protocol)
        codec = self._codecs[protocol]
        attributes = {"request_id": outcome.request_id, "protocol": protocol}
        with self._tracer.span("request", attributes) as span:
            try:
                reply = await self._route(codec, outcome, headers, body)
            except PolicyEngineError as error:
                reply = await self._fail(codec, outcome, error)
            except Exception as error:  # noqa: BLE001 - the one last resort: still audit and answer
                _log.error(
                    "internal_error",
                    request_id=outcome.request_id,
                    error=type(error).__name__,
                    at=_where(error),
                )
                reply = await self._fail(codec, outcome, InternalError("internal error"))
            span.set("tenant", outcome.tenant)
            span.set("provider", outcome.provider)
            span.set("outcome", outcome.outcome)
            span.set("attempts", len(outcome.attempts))
            return reply

    async def reject(self, protocol: str, error: PolicyEngineError) -> Reply:
        """An error found before the pipeline ran (oversized body, bad auth): still audited."""
        outcome = RequestOutcome(request_id=request_id(), protocol=protocol)
        return await self._fail(self._codecs[protocol], outcome, error)

    async def _route(
        self, codec: ClientCodec, outcome: RequestOutcome, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        caller = self._auth.authenticate(headers)
        outcome.caller = caller.name
        routing_headers = read_routing_headers(headers)
        outcome.tenant = routing_headers.tenant
        caller.check_tenant(routing_headers.tenant)
        request = self._parse(codec, body)
        if request.model not in self._aliases:
            # Checked before the context is recorded: an unknown alias is free text
            # from the client and stays out of the audit record.
            raise UnknownModel(_unknown_model_message(request.model))
        context = routing_context(routing_headers, request, outcome.protocol)
        outcome.context = context
        decision = await self._decide(outcome)
        plan = self._redactable(self._plan(decision, request.model), outcome)
        session = self._redactor.session(routing_headers.tenant)
        await session.prepare(request, [c.redact for c in plan], len(body))
        try:
            if request.stream:
                route = await self._router.open_stream(
                    request, plan, decision, session, outcome.attempts
                )
                outcome.provider = route.candidate.id
                events = self._stream_body(codec, outcome, request, session, route)
                return StreamReply(events, self._headers(outcome))
            result = await self._router.complete(request, plan, decision, session, outcome.attempts)
        finally:
            outcome.redactions = session.counts
        response = session.restore_response(result.response)
        outcome.provider = result.candidate.id
        outcome.usage = response.usage
        payload = codec.encode_response(response, outcome.request_id, response.model)
        await self._finish(outcome, "answered", 200)
        return JsonReply(200, payload, self._headers(outcome))

    def _parse(self, codec: ClientCodec, body: bytes) -> ChatRequest:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise BadRequest(f"request body is not valid JSON ({error.msg})") from None
        try:
            return codec.decode_request(document)
        except InvalidRequest as error:
            raise BadRequest(error.message, param=error.param) from None

    async def _decide(self, outcome: RequestOutcome) -> PolicyDecision:
        assert outcome.context is not None
        with self._tracer.span("decision") as span, self._metrics.decision_seconds.time():
            try:
                decision = await self._decider.decide(outcome.context)
            except PolicyUnavailable as error:
                self._metrics.decisions_by("failed").inc()
                self._metrics.policy_errors_by(error.cause).inc()
                span.set("failed_closed", error.cause)
                raise
            span.set("policy_revision", decision.revision)
            span.set("allowed", len(decision.allowed))
        outcome.decision = decision
        if not decision.tenant_known:
            self._metrics.decisions_by("unknown_tenant").inc()
            raise BadRequest(f"unknown tenant {outcome.tenant!r}", param="X-Tenant-ID")
        self._metrics.decisions_by("allowed" if decision.allowed else "denied").inc()
        for provider, reasons in decision.denied.items():
            # "residency: tenant requires eu, ..." -> "residency": bounded label values.
            for rule in {reason.partition(":")[0][:32] for reason in reasons}:
                self._metrics.denials_by(provider, rule).inc()
        return decision

    def _plan(self, decision: PolicyDecision, alias: str) -> list[Candidate]:
        plan = self._router.plan(decision, alias)
        if plan:
            return plan
        serving = [p.id for p in self._settings.providers if alias in p.models]
        allowed = [p for p in serving if p in decision.allowed]
        if not allowed:
            reasons = {p: decision.denied.get(p, ()) for p in serving}
            summary = "; ".join(f"{p}: {', '.join(r)}" for p, r in reasons.items())
            raise PolicyDenied(
                f"the policy allows no provider for model {alias!r} ({summary})", reasons
            )
        raise ProvidersUnavailable(
            f"every allowed provider for model {alias!r} has an open circuit: {', '.join(allowed)}"
        )

    def _redactable(self, plan: list[Candidate], outcome: RequestOutcome) -> list[Candidate]:
        """Keep the candidates whose redaction obligations this sidecar can meet.

        PERSON and LOCATION need an NER backend; without one, a provider that must not
        see them is skipped (fail_closed) or used with the gap recorded (record).
        """
        if not self._settings.stages.redaction:
            return plan
        missing = {c.id: self._redactor.uncovered(c.redact) for c in plan}
        if not any(missing.values()):
            return plan
        if self._settings.redaction.undetectable == "record":
            outcome.unredactable = sorted(set().union(*missing.values()))
            return plan
        kept = [c for c in plan if not missing[c.id]]
        if kept:
            return kept
        types = ", ".join(sorted(set().union(*missing.values())))
        raise ObligationUnmet(
            f"the policy requires redacting {types}, which this sidecar cannot detect "
            "(install the ner extra and set redaction.ner: true)"
        )

    def _headers(self, outcome: RequestOutcome) -> dict[str, str]:
        headers = {"x-request-id": outcome.request_id}
        if outcome.provider:
            headers["x-routed-provider"] = outcome.provider
        if outcome.decision is not None:
            headers["x-policy-revision"] = outcome.decision.revision
        return headers

    async def _finish(self, outcome: RequestOutcome, result: str, status: int) -> None:
        """Write the one audit record; raise AuditWriteFailed when it cannot be made durable."""
        outcome.outcome, outcome.status = result, status
        if outcome.audited:
            return
        outcome.audited = True
        self._metrics.request_seconds_by(outcome.protocol).observe(
            time.perf_counter() - outcome.started
        )
        for entity_type, count in outcome.redactions.items():
            self._metrics.redactions_by(entity_type).inc(count)
        if (
            outcome.provider
            and outcome.attempts
            and outcome.attempts[0].provider != outcome.provider
        ):
            self._metrics.fallbacks.inc()
        self._count_usage(outcome)
        try:
            with self._metrics.audit_seconds.time(), self._tracer.span("audit"):
                # Queued once submit returns: a client that leaves while we wait
                # cancels only the wait, never the record.
                await self._audit.submit(outcome.audit_event())
        except AuditError:
            # What the client gets instead, for the request's count and log line below.
            outcome.outcome, outcome.status = _OUTCOMES[AuditWriteFailed], AuditWriteFailed.status
            self._metrics.audit_failures.inc()
            _log.error(
                "audit_unavailable",
                request_id=outcome.request_id,
                hint="the audit log cannot be written; failing closed",
            )
            raise AuditWriteFailed(
                "the audit log is unavailable; the request was not served"
            ) from None
        finally:
            self._metrics.requests_by(outcome.protocol, outcome.outcome).inc()
            _request_line(outcome.log_fields())

    def _count_usage(self, outcome: RequestOutcome) -> None:
        if outcome.usage is None or outcome.provider is None:
            return
        usage, provider = outcome.usage, outcome.provider
        self._metrics.tokens_by(provider, "input").inc(usage.input_tokens)
        self._metrics.tokens_by(provider, "output").inc(usage.output_tokens)
        attributes = self._settings.provider(provider).attributes
        if attributes.price_per_1m_input is not None and attributes.price_per_1m_output is not None:
            cost = (
                usage.input_tokens * attributes.price_per_1m_input
                + usage.output_tokens * attributes.price_per_1m_output
            ) / 1_000_000
            self._metrics.cost_by(provider).inc(cost)

    async def _fail(
        self, codec: ClientCodec, outcome: RequestOutcome, error: PolicyEngineError
    ) -> JsonReply:
        outcome.error_type = error.error_type
        try:
            await self._finish(outcome, _OUTCOMES.get(type(error), "error"), error.status)
        except AuditWriteFailed as audit_error:
            error = audit_error
        param = error.param if isinstance(error, BadRequest) else None
        body = codec.encode_error(error.status, error.error_type, error.client_message, param)
        return JsonReply(error.status, body, self._headers(outcome))

    # -- streaming ------------------------------------------------------------------

    async def _stream_body(
        self,
        codec: ClientCodec,
        outcome: RequestOutcome,
        request: ChatRequest,
        session: RedactionSession,
        route: StreamRoute,
    ) -> AsyncGenerator[bytes, None]:
        encoder = codec.stream_encoder(request, outcome.request_id, route.candidate.model)
        restorer = session.stream_restorer()
        usage = Usage()
        finished = False
        try:
            # The first read may already hold the whole answer, end included. What one
            # read brought goes out in one write: a write per event cost a syscall each.
            async with aclosing(_batches(route.first, route.rest)) as batches:
                async for batch in batches:
                    out: list[bytes] = []
                    for event in batch:
                        if isinstance(event, StreamStart) and event.usage is not None:
                            usage.input_tokens = event.usage.input_tokens
                        if isinstance(event, StreamEnd):
                            out.extend(encoder.encode(restored) for restored in restorer.flush())
                            if data := b"".join(out):
                                yield data
                            if event.usage is not None:
                                usage.input_tokens = event.usage.input_tokens or usage.input_tokens
                                usage.output_tokens = event.usage.output_tokens
                            outcome.usage = usage
                            # The clean end goes out only once the record is durable.
                            outcome.redactions = session.counts
                            await self._finish(outcome, "answered", 200)
                            finished = True
                            yield encoder.encode(event)
                            return
                        out.extend(encoder.encode(restored) for restored in restorer.feed(event))
                    if data := b"".join(out):
                        yield data
            raise ProviderError(
                ProviderErrorKind.STREAM_INTERRUPTED, "the stream ended without its final event"
            )
        except ProviderError as error:
            outcome.usage = usage
            outcome.error_type = "providers_unavailable"
            await self._end_stream_badly(outcome, "stream_failed", 502)
            yield encoder.encode_error(
                502, "api_error", f"the provider stream failed: {error.kind.value}"
            )
        except AuditWriteFailed as error:
            yield encoder.encode_error(error.status, error.error_type, error.message)
        finally:
            if not finished and not outcome.audited:
                await self._end_stream_badly(outcome, "client_disconnected", 499)
            await route.aclose()

    async def _end_stream_badly(self, outcome: RequestOutcome, result: str, status: int) -> None:
        try:
            await self._finish(outcome, result, status)
        except AuditWriteFailed:
            return


def request_id() -> str:
    """A random UUID (version 4) in hex, as `uuid.uuid4().hex` gives it, without building
    the UUID object: 0.5 against 1.4 µs, on every request."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # the RFC 4122 variant
    return raw.hex()


_ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9._:/-]{0,63}")


def _unknown_model_message(alias: str) -> str:
    # Echoed only when it looks like a model name (starts with a letter, no spaces),
    # as the routing headers are: a card or phone number pasted here is not sent back.
    shown = f"model {alias!r}" if _ALIAS.fullmatch(alias) else "the requested model"
    return f"{shown} is not configured; see GET /v1/models"


def _where(error: BaseException) -> str:
    """file:line of the innermost frame; the message may hold request content, so it is dropped."""
    frames = traceback.extract_tb(error.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"


async def _batches(
    first: list[StreamEvent], rest: AsyncIterator[list[StreamEvent]]
) -> AsyncGenerator[list[StreamEvent], None]:
    if first:
        yield first
    async for batch in rest:
        yield batch

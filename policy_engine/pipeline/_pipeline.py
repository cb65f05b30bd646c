"""One request, start to finish: context → decision → plan → intent → attempts → answer
→ outcome.

No HTTP framework here: the API layer hands in the protocol, headers and body bytes
and gets back a reply to send. Before the first byte of a request leaves for a
provider, its intent record (decision and route) is durable; every request that
reaches `handle` gets exactly one outcome record, and an answer is released only after
that record is durable.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Protocol

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
    requirements,
)
from adapters._validate import MAX_JSON_DEPTH, body_too_deep, could_nest, too_deep
from policy_engine._auth import Authenticator, TenantForbidden, Unauthenticated
from policy_engine._config import Settings
from policy_engine._context import Operation, read_routing_headers, routing_context
from policy_engine._errors import (
    AuditWriteFailed,
    BadRequest,
    BodyTooLarge,
    FeatureUnavailable,
    InternalError,
    LimitExceeded,
    LimitsUnavailable,
    ObligationUnmet,
    PolicyDenied,
    PolicyEngineError,
    PolicyUnavailable,
    ProviderRejected,
    ProvidersUnavailable,
    RequestTimeout,
    UnknownModel,
)
from policy_engine.decision import Decider, PolicyDecision
from policy_engine.fleet import NO_BUDGET, Limiter
from policy_engine.pipeline._outcome import RequestOutcome
from policy_engine.pipeline._records import AUDIT_FAILED, AuditSink, Recorder, error_location
from policy_engine.pipeline._signals import excluded, first_choice, record_answer
from policy_engine.redaction import RedactionSession, Redactor
from policy_engine.routing import (
    Candidate,
    Reservation,
    Router,
    StreamRoute,
    feature_unavailable,
    served_by,
    skipped_summary,
)
from policy_engine.telemetry import Metrics, Tracer, get_logger, set_answer

_log = get_logger("policy_engine.request")

_OUTCOMES: dict[type[PolicyEngineError], str] = {
    BadRequest: "bad_request",
    BodyTooLarge: "bad_request",  # the record's error_type says request_too_large
    FeatureUnavailable: "bad_request",
    UnknownModel: "bad_request",
    PolicyUnavailable: "failed_closed",
    PolicyDenied: "denied",
    ProvidersUnavailable: "all_failed",
    ProviderRejected: "provider_rejected",
    AuditWriteFailed: AUDIT_FAILED,
    ObligationUnmet: "failed_closed",
    InternalError: "internal_error",
    Unauthenticated: "unauthenticated",
    TenantForbidden: "forbidden",
    LimitExceeded: "rate_limited",
    LimitsUnavailable: "limits_unavailable",
    RequestTimeout: "client_timeout",
}
# Every final outcome a request is counted and audited with (the README lists them); an
# error missing above is a bug, and is recorded as one.
_UNMAPPED = "internal_error"
OUTCOMES = frozenset(
    {*_OUTCOMES.values(), "answered", "stream_failed", "client_disconnected", _UNMAPPED}
)


@dataclass(slots=True)
class JsonReply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    # The provider answer's share of the memory budget, given back as the reply is dropped.
    hold: Reservation | None = None


@dataclass(slots=True)
class StreamReply:
    body: AsyncGenerator[bytes, None]
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200


Reply = JsonReply | StreamReply


class ErrorEncoder(Protocol):
    def encode_error(
        self, status: int, error_type: str, message: str, param: str | None = None
    ) -> bytes: ...


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
        limits: Limiter | None = None,
    ) -> None:
        self._tracer = tracer
        self._limits = limits
        self._settings = settings
        self._auth = authenticator
        self._decider = decider
        self._router = router
        self._redactor = redactor
        self._metrics = metrics
        self._records = Recorder(settings, audit, metrics, tracer)
        self._codecs: dict[str, ClientCodec] = {p: client_codec(p) for p in CLIENT_PROTOCOLS}
        self._aliases = frozenset(alias for p in settings.providers for alias in p.models)
        # Aliases, and the provider models they map to (`gpt-4o`), which are served as is.
        self._models = self._aliases | {m for p in settings.providers for m in p.models.values()}
        # Embedding models (`embeddings` aliases and what they map to) are not chat models.
        self._embedding_only = frozenset(
            model_names(settings, embedding=True) - model_names(settings, embedding=False)
        )

    @property
    def aliases(self) -> frozenset[str]:
        return self._aliases

    def serves(self, model: str) -> bool:
        return model in self._models

    def unknown_model(self, model: str) -> UnknownModel:
        return UnknownModel(_unknown_model_message(model, self._aliases))

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
                    at=error_location(error),
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
        if request.model in self._embedding_only:
            raise BadRequest(
                f"model {request.model!r} is an embedding model: POST /v1/embeddings",
                param="model",
            )
        if request.model not in self._models:
            # Checked before the context is recorded: an unknown model is free text
            # from the client and stays out of the audit record.
            raise self.unknown_model(request.model)
        # The Responses API is an operation of its own to the policy (a tenant may be
        # allowed chat only), though it is served through the same chat model.
        operation: Operation = "responses" if outcome.protocol == "responses" else "chat"
        context = routing_context(routing_headers, request, outcome.protocol, operation=operation)
        outcome.context = context
        if self._limits is not None:
            admission = await self._limits.admit(
                context.tenant, caller.name, context.input_chars, request.max_tokens
            )
            if admission is not None:
                outcome.limits = admission
                admission.raise_if_refused()
                if admission.view is not NO_BUDGET:
                    outcome.context = replace(context, budget=admission.view)
        decision = await self._decide(outcome)
        if self._router.not_ready:
            outcome.skipped = self._skipped(decision, request.model)
        plan = self._redactable(self._plan(decision, request, outcome.protocol), outcome)
        session = self._redactor.session(routing_headers.tenant)
        await session.prepare(request, [c.redact for c in plan], len(body))
        # The router awaits it once, just before the first byte leaves for a provider.
        write_ahead = partial(self._records.intent, outcome, plan, session)
        try:
            if request.stream:
                route = await self._router.open_stream(
                    request, plan, decision, session, outcome.attempts, write_ahead
                )
                self._answered(outcome, request, plan, route.candidate, _stream_model(route.first))
                events = self._stream_body(codec, outcome, request, session, route)
                return StreamReply(events, self._headers(outcome))
            result = await self._router.complete(
                request, plan, decision, session, outcome.attempts, write_ahead
            )
        except ProvidersUnavailable as error:
            message = error.message + excluded(decision, request.model, self._settings.providers)
            raise ProvidersUnavailable(message) from None
        finally:
            outcome.redactions = session.counts
        response = session.restore_response(
            result.response, json_content=request.response_format is not None
        )
        self._answered(outcome, request, plan, result.candidate, result.response.model)
        response.usage = outcome.usage = outcome.checked_usage(response.usage)
        assert outcome.model is not None
        payload = codec.encode_response(response, request, outcome.request_id, outcome.model)
        await self._finish(outcome, "answered", 200)
        return JsonReply(200, payload, self._headers(outcome), result.hold)

    def _answered(
        self,
        outcome: RequestOutcome,
        request: ChatRequest,
        plan: list[Candidate],
        answered: Candidate,
        reported: str,
    ) -> None:
        assert outcome.decision is not None and outcome.context is not None
        health, settings = self._router.health, self._settings
        first = None
        if answered.id == plan[0].id:  # a fallback all the same if the first was skipped
            first = first_choice(
                outcome.decision,
                outcome.context.model,
                settings.providers,
                health,
                settings.routing,
                requirements(request),
            )
        record_answer(outcome, plan, answered, reported, first)

    def _parse(self, codec: ClientCodec, body: bytes) -> ChatRequest:
        # Depth is bounded here, once, for everything downstream that walks the request
        # (codecs, redaction, encoders): past it, a 400 rather than a RecursionError.
        nested = could_nest(body)
        if nested and body_too_deep(body):
            raise BadRequest(f"request body nests deeper than {MAX_JSON_DEPTH} levels")
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise BadRequest(f"request body is not valid JSON ({error.msg})") from None
        try:
            request = codec.decode_request(document)
        except InvalidRequest as error:
            raise BadRequest(error.message, param=error.param) from None
        if nested and any(too_deep(c.arguments) for m in request.messages for c in m.tool_calls):
            raise BadRequest(f"tool call arguments nest deeper than {MAX_JSON_DEPTH} levels")
        return request

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

    def _plan(
        self, decision: PolicyDecision, request: ChatRequest, protocol: str
    ) -> list[Candidate]:
        alias, needs = request.model, requirements(request)
        plan = self._router.plan(decision, alias, needs)
        if plan:
            return plan
        serving = list(served_by(self._settings.providers, alias))
        allowed = [p for p in serving if p in decision.allowed]
        if not allowed:
            reasons = {p: decision.denied.get(p, ()) for p in serving}
            summary = "; ".join(f"{p}: {', '.join(r)}" for p, r in reasons.items())
            raise PolicyDenied(
                f"the policy allows no provider for model {alias!r} ({summary})", reasons
            )
        # Candidates that cannot honour a feature the request asks for are not candidates.
        skipped = self._router.skipped(decision, alias, needs)
        unhonoured = feature_unavailable(alias, allowed, skipped, protocol)
        if unhonoured is not None:
            raise unhonoured
        why = [
            f"{p} ({self._router.not_ready.get(p, 'circuit open')})"
            for p in allowed
            if p not in skipped
        ]
        note = f" (skipped: {skipped_summary(skipped, protocol)})" if skipped else ""
        raise ProvidersUnavailable(
            f"every allowed provider for model {alias!r} is unavailable: {', '.join(why)}{note}"
            + excluded(decision, alias, self._settings.providers)
        )

    def _skipped(self, decision: PolicyDecision, model: str) -> dict[str, str]:
        """The allowed providers for the model left out for want of their API key."""
        serving = served_by(self._settings.providers, model)
        not_ready = self._router.not_ready
        return {
            p: not_ready[p] for p in sorted(not_ready) if p in serving and p in decision.allowed
        }

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
        if outcome.model:
            headers["x-routed-model"] = outcome.model
        if outcome.fallback:
            headers["x-fallback"] = outcome.fallback
        if outcome.decision is not None:
            headers["x-policy-revision"] = outcome.decision.revision
        return headers

    async def _finish(self, outcome: RequestOutcome, result: str, status: int) -> None:
        first = not outcome.audited
        try:
            await self._records.outcome(outcome, result, status)
        finally:
            # After the record: what the request used is settled against its limits once.
            if first and self._limits is not None and outcome.limits is not None:
                self._limits.settle(outcome.limits, outcome.provider, outcome.usage)

    async def _fail(
        self, codec: ErrorEncoder, outcome: RequestOutcome, error: PolicyEngineError
    ) -> JsonReply:
        outcome.error_type = error.error_type
        try:
            await self._finish(outcome, _OUTCOMES.get(type(error), _UNMAPPED), error.status)
        except AuditWriteFailed as audit_error:
            error = audit_error
        body = codec.encode_error(error.status, error.error_type, error.client_message, error.param)
        headers = self._headers(outcome)
        if error.retry_after_s is not None:
            headers["retry-after"] = str(max(1, math.ceil(error.retry_after_s)))
        return JsonReply(error.status, body, headers)

    # -- streaming ------------------------------------------------------------------

    async def _stream_body(
        self,
        codec: ClientCodec,
        outcome: RequestOutcome,
        request: ChatRequest,
        session: RedactionSession,
        route: StreamRoute,
    ) -> AsyncGenerator[bytes, None]:
        assert outcome.model is not None
        encoder = codec.stream_encoder(request, outcome.request_id, outcome.model)
        restorer = session.stream_restorer(json_content=request.response_format is not None)
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
                            event.usage = outcome.checked_usage(event.usage)
                            usage.input_tokens = event.usage.input_tokens
                        if isinstance(event, StreamEnd):
                            out.extend(encoder.encode(restored) for restored in restorer.flush())
                            if data := b"".join(out):
                                yield data
                            if event.usage is not None:
                                event.usage = outcome.checked_usage(event.usage)
                                usage.input_tokens = event.usage.input_tokens or usage.input_tokens
                                usage.output_tokens = event.usage.output_tokens
                            outcome.usage = usage
                            set_answer(route.span, outcome.response_model or "", usage)
                            end = encoder.encode(event)
                            # The clean end goes out only once the record is durable.
                            outcome.redactions = session.counts
                            await self._finish(outcome, "answered", 200)
                            finished = True
                            yield end
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
        except Exception as error:  # noqa: BLE001 - the last resort, as in `handle`
            _log.error(
                "internal_error",
                request_id=outcome.request_id,
                error=type(error).__name__,
                at=error_location(error),
            )
            outcome.usage = usage
            outcome.error_type = InternalError.error_type
            await self._end_stream_badly(outcome, _OUTCOMES[InternalError], InternalError.status)
            yield encoder.encode_error(
                InternalError.status, InternalError.error_type, "internal error"
            )
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


def shown_model(model: str) -> str:
    """The requested model as an error message names it: echoed only when it looks like
    a model name (starts with a letter, no spaces), as the routing headers are, so a
    card or phone number pasted there is not sent back."""
    return f"model {model!r}" if _ALIAS.fullmatch(model) else "the requested model"


def _unknown_model_message(model: str, aliases: frozenset[str]) -> str:
    shown = shown_model(model)
    return (
        f"{shown} is neither a configured alias nor a model a configured provider serves; "
        f"aliases: {', '.join(sorted(aliases))} (GET /v1/models)"
    )


def model_names(settings: Settings, *, embedding: bool) -> set[str]:
    """The aliases, and the provider models they map to, of embedding or of chat models."""
    return {
        name
        for p in settings.providers
        for alias, model in p.models.items()
        if (alias in settings.embeddings) == embedding
        for name in (alias, model)
    }


def _stream_model(first: list[StreamEvent]) -> str:
    """The model a stream's start event names (empty when it names none)."""
    return next((e.model for e in first if isinstance(e, StreamStart)), "")


async def _batches(
    first: list[StreamEvent], rest: AsyncIterator[list[StreamEvent]]
) -> AsyncGenerator[list[StreamEvent], None]:
    if first:
        yield first
    async for batch in rest:
        yield batch

"""One embeddings request, start to finish: context → decision → plan → intent → attempts
→ answer → outcome, as for chat.

The chat pipeline's stages are shared (caller, routing headers, limits, the decision,
redaction obligations, the two audit records); what differs is the request, its plan
(one model's providers only: `routing.embedding_routes`), the call, and the answer,
which has no text to restore: redacted inputs are embedded with their placeholders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from functools import partial

import orjson

from adapters import EmbeddingRequest, InvalidRequest, Usage, embedding_client_codec
from adapters._validate import MAX_JSON_DEPTH, body_too_deep, could_nest
from policy_engine._auth import Authenticator
from policy_engine._config import Settings
from policy_engine._context import embedding_context, read_routing_headers
from policy_engine._errors import (
    BadRequest,
    InternalError,
    PolicyDenied,
    PolicyEngineError,
    ProvidersUnavailable,
    UnknownModel,
)
from policy_engine.decision import Decider, PolicyDecision
from policy_engine.fleet import NO_BUDGET, Limiter
from policy_engine.pipeline._outcome import RequestOutcome
from policy_engine.pipeline._pipeline import (
    JsonReply,
    Pipeline,
    model_names,
    request_id,
    shown_model,
)
from policy_engine.pipeline._records import AuditSink, error_location
from policy_engine.pipeline._signals import record_answer
from policy_engine.redaction import Redactor
from policy_engine.routing import (
    Candidate,
    EmbeddingRoute,
    EmbeddingRouter,
    embedding_routes,
    plan_embeddings,
    too_many_inputs,
)
from policy_engine.telemetry import Metrics, Tracer, get_logger

_log = get_logger("policy_engine.request")
PROTOCOL = "openai"
# Answers of this many numbers on are written off the event loop (about a megabyte).
OFF_LOOP_NUMBERS = 1 << 17


class EmbeddingPipeline(Pipeline):
    """`POST /v1/embeddings`; `handle` (chat) is the parent's and is not used here."""

    def __init__(
        self,
        settings: Settings,
        decider: Decider,
        router: EmbeddingRouter,
        redactor: Redactor,
        audit: AuditSink,
        metrics: Metrics,
        authenticator: Authenticator,
        tracer: Tracer,
        limits: Limiter | None = None,
    ) -> None:
        super().__init__(
            settings, decider, router, redactor, audit, metrics, authenticator, tracer, limits
        )
        self._embedder = router
        self._codec = embedding_client_codec()
        self.routes = embedding_routes(settings)
        self._chat_models = frozenset(model_names(settings, embedding=False))

    def serves_embeddings(self, model: str) -> bool:
        return model in self.routes

    async def handle_embeddings(self, headers: Mapping[str, str], body: bytes) -> JsonReply:
        outcome = RequestOutcome(request_id=request_id(), protocol=PROTOCOL)
        attributes = {"request_id": outcome.request_id, "protocol": "embeddings"}
        with self._tracer.span("request", attributes) as span:
            try:
                reply = await self._embed(outcome, headers, body)
            except PolicyEngineError as error:
                reply = await self._fail(self._codec, outcome, error)
            except Exception as error:  # noqa: BLE001 - the one last resort: still audit and answer
                _log.error(
                    "internal_error",
                    request_id=outcome.request_id,
                    error=type(error).__name__,
                    at=error_location(error),
                )
                reply = await self._fail(self._codec, outcome, InternalError("internal error"))
            span.set("tenant", outcome.tenant)
            span.set("provider", outcome.provider)
            span.set("outcome", outcome.outcome)
            span.set("attempts", len(outcome.attempts))
            return reply

    async def reject_embeddings(self, error: PolicyEngineError) -> JsonReply:
        """An error found before the pipeline ran (oversized body, bad auth): still audited."""
        outcome = RequestOutcome(request_id=request_id(), protocol=PROTOCOL)
        return await self._fail(self._codec, outcome, error)

    async def _embed(
        self, outcome: RequestOutcome, headers: Mapping[str, str], body: bytes
    ) -> JsonReply:
        caller = self._auth.authenticate(headers)
        outcome.caller = caller.name
        routing_headers = read_routing_headers(headers)
        outcome.tenant = routing_headers.tenant
        caller.check_tenant(routing_headers.tenant)
        request = self._parse_embeddings(body)
        route = self._route_for(request.model)
        context = embedding_context(routing_headers, request)
        outcome.context = context
        if self._limits is not None:
            admission = await self._limits.admit(
                context.tenant, caller.name, context.input_chars, None
            )
            if admission is not None:
                outcome.limits = admission
                admission.raise_if_refused()
                if admission.view is not NO_BUDGET:
                    outcome.context = context = embedding_context(
                        routing_headers, request, admission.view
                    )
        decision = await self._decide(outcome)
        if self._router.not_ready:
            outcome.skipped = {
                p: why
                for p, why in sorted(self._router.not_ready.items())
                if p in route.served and p in decision.allowed
            }
        plan = self._redactable(self._embedding_plan(decision, request, route), outcome)
        session = self._redactor.session()
        write_ahead = partial(self._records.intent, outcome, plan, session)
        try:
            result = await self._embedder.embed(
                request, plan, decision, session, outcome.attempts, write_ahead
            )
        except ProvidersUnavailable as error:
            raise ProvidersUnavailable(error.message + _excluded(decision, route)) from None
        finally:
            outcome.redactions = session.counts
        answered = result.candidate
        first = self._first_choice(decision, route, request)
        record_answer(outcome, plan, answered, result.response.model, first)
        outcome.price = _price(answered)
        tokens = result.response.input_tokens
        if tokens is None:
            # Gemini counts none: about four characters a token, as the policy estimates.
            outcome.usage_estimated = True
            tokens = -(-context.input_chars // 4)
        outcome.usage = outcome.checked_usage(Usage(tokens, 0))
        assert outcome.model is not None
        encode = partial(
            self._codec.encode_response,
            result.response,
            request,
            outcome.model,
            outcome.usage.input_tokens,
        )
        # As the router decodes a large answer, a large one is written off the loop.
        numbers = len(result.response.vectors) * len(result.response.vectors[0])
        payload = encode() if numbers < OFF_LOOP_NUMBERS else await asyncio.to_thread(encode)
        await self._finish(outcome, "answered", 200)
        return JsonReply(200, payload, self._headers(outcome), result.hold)

    def _parse_embeddings(self, body: bytes) -> EmbeddingRequest:
        if could_nest(body) and body_too_deep(body):
            raise BadRequest(f"request body nests deeper than {MAX_JSON_DEPTH} levels")
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise BadRequest(f"request body is not valid JSON ({error.msg})") from None
        try:
            return self._codec.decode_request(document)
        except InvalidRequest as error:
            raise BadRequest(error.message, param=error.param) from None

    def _route_for(self, model: str) -> EmbeddingRoute:
        route = self.routes.get(model)
        if route is not None:
            return route
        aliases = ", ".join(sorted(self._settings.embeddings)) or "none configured"
        if model in self._chat_models:
            # A configured name, so safe to echo.
            raise BadRequest(
                f"model {model!r} is a chat model, not an embedding model; "
                f"embedding aliases: {aliases}",
                param="model",
            )
        raise UnknownModel(
            f"{shown_model(model)} is not an embedding model this sidecar serves; "
            f"embedding aliases: {aliases} (GET /v1/models)"
        )

    def _embedding_plan(
        self, decision: PolicyDecision, request: EmbeddingRequest, route: EmbeddingRoute
    ) -> list[Candidate]:
        inputs = len(request.inputs)
        plan = self._embedder.embedding_plan(decision, route, inputs)
        if plan:
            return plan
        alias = request.model
        allowed = [p for p in route.served if p in decision.allowed]
        if not allowed:
            reasons = {p: decision.denied.get(p, ()) for p in route.served}
            summary = "; ".join(f"{p}: {', '.join(r)}" for p, r in reasons.items())
            raise PolicyDenied(
                f"the policy allows no provider for model {alias!r} ({summary})", reasons
            )
        providers = self._settings.providers
        too_many = too_many_inputs(decision, route, providers, inputs)
        if all(p in too_many for p in allowed):
            limits = "; ".join(f"{p} takes at most {n}" for p, n in too_many.items())
            raise BadRequest(
                f"no allowed provider for model {alias!r} takes {inputs} inputs in one "
                f"request ({limits}): send fewer",
                param="input",
            )
        why = [
            f"{p} ({self._router.not_ready.get(p, 'circuit open')})"
            for p in allowed
            if p not in too_many
        ]
        raise ProvidersUnavailable(
            f"every allowed provider for model {alias!r} is unavailable: {', '.join(why)}"
            + _excluded(decision, route)
        )

    def _first_choice(
        self, decision: PolicyDecision, route: EmbeddingRoute, request: EmbeddingRequest
    ) -> str | None:
        """As `first_choice` for chat: the provider the plan would start with were no
        circuit open, when that one's circuit is open; else None."""
        health = self._router.health
        if all(h.breaker.closed for h in health.values()):
            return None
        open_circuits = {pid for pid, h in health.items() if not h.breaker.available()}
        # Leaving a provider out of `health` counts it as available to the plan.
        closed = {pid: h for pid, h in health.items() if pid not in open_circuits}
        providers = [p for p in self._settings.providers if p.id not in self._router.not_ready]
        strategy = self._settings.routing.strategy
        ordered = plan_embeddings(decision, route, providers, closed, strategy, len(request.inputs))
        first = ordered[0].id if ordered else None
        return first if first in open_circuits else None


def _price(candidate: Candidate) -> tuple[float, float] | None:
    """USD per million input tokens; an embedding model has no output tokens, so no
    output price is needed."""
    provider, model = candidate.provider, candidate.model
    price = provider.price(model)
    if price is not None:
        return price
    facts = provider.model_facts(model)
    price_in = facts.price_per_1m_input
    if price_in is None:
        price_in = provider.attributes.price_per_1m_input
    return None if price_in is None else (price_in, 0.0)


def _excluded(decision: PolicyDecision, route: EmbeddingRoute) -> str:
    reasons = [
        f"{p} ({'; '.join(decision.denied[p])})" for p in route.served if p in decision.denied
    ]
    return f"; not allowed by the policy: {', '.join(reasons)}" if reasons else ""

"""Embeddings calls: the router's schedule, circuit breakers, failure handling,
write-ahead hook and answer budget, with the embedding codecs.

The chat path is left as it is: this router adds one way to call, and shares the
rest. As for chat, only the planned candidates are ever tried, and a candidate's
request is redacted with its own obligation types before it is encoded.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Protocol

from pydantic import SecretStr

from adapters import (
    EMBEDDING_ADAPTERS,
    CloudCredentials,
    EmbeddingProviderCodec,
    EmbeddingRequest,
    EmbeddingResponse,
    HttpRequest,
    InvalidRequest,
    ProviderError,
    ProviderErrorKind,
    embedding_codec,
)
from policy_engine._config import ProviderConfig, RoutingSettings
from policy_engine._errors import BadRequest
from policy_engine.decision import PolicyDecision
from policy_engine.routing._budget import Reservation
from policy_engine.routing._embedding_plan import EmbeddingRoute, plan_embeddings
from policy_engine.routing._guard import CODEC_ERRORS, unreadable
from policy_engine.routing._plan import Candidate
from policy_engine.routing._router import Attempt, BeforeFirstSend, Router
from policy_engine.routing._transport import UpstreamTransport
from policy_engine.telemetry import Metrics, Tracer, embeddings_span, response_model

# Answers from this size on are decoded off the event loop: about 40 vectors of 1,536
# floats, a few milliseconds of parsing and checking.
OFF_LOOP_BYTES = 1 << 20


class TextRedactor(Protocol):
    def redact_text(self, text: str, types: frozenset[str]) -> str: ...


@dataclass(slots=True)
class EmbeddingResult:
    response: EmbeddingResponse
    candidate: Candidate
    hold: Reservation  # the answer's share of the memory budget, while it is kept


def redacted(
    request: EmbeddingRequest, redactor: TextRedactor, types: frozenset[str]
) -> EmbeddingRequest:
    """Every text that leaves, redacted for one provider: each input, and `user`."""
    return request.with_texts(
        [redactor.redact_text(text, types) for text in request.inputs],
        None if request.user is None else redactor.redact_text(request.user, types),
    )


class EmbeddingRouter(Router):
    def __init__(
        self,
        settings: RoutingSettings,
        providers: Sequence[ProviderConfig],
        api_keys: Mapping[str, SecretStr | None],
        transport: UpstreamTransport,
        metrics: Metrics,
        tracer: Tracer,
        rng: random.Random | None = None,
        credentials: Mapping[str, CloudCredentials] | None = None,
    ) -> None:
        super().__init__(
            settings, providers, api_keys, transport, metrics, tracer, rng, credentials
        )
        self._embedding_codecs: dict[str, EmbeddingProviderCodec] = {
            p.id: embedding_codec(p.adapter) for p in providers if p.adapter in EMBEDDING_ADAPTERS
        }
        self._dimensions = {
            (p.id, model): facts.dimensions
            for p in providers
            for model, facts in p.model_attributes.items()
            if facts.dimensions is not None
        }

    def embedding_plan(
        self, decision: PolicyDecision, route: EmbeddingRoute, inputs: int
    ) -> list[Candidate]:
        return plan_embeddings(
            decision, route, self._providers, self.health, self._settings.strategy, inputs
        )

    async def embed(
        self,
        request: EmbeddingRequest,
        plan: Sequence[Candidate],
        decision: PolicyDecision,
        redactor: TextRedactor,
        attempts: list[Attempt],
        before_first_send: BeforeFirstSend,
    ) -> EmbeddingResult:
        schedule = self._schedule(plan)
        async with aclosing(schedule.candidates()) as candidates:
            async for candidate in candidates:
                codec, http = self._prepare_embeddings(candidate, request, redactor)
                attempt = await self._admit(candidate, attempts, before_first_send)
                budget = min(self._settings.attempt_timeout_s, schedule.remaining())
                hold: Reservation | None = None
                with embeddings_span(
                    self._tracer,
                    candidate.id,
                    candidate.provider.adapter,
                    candidate.model,
                    request.dimensions,
                ) as span:
                    try:
                        response, hold = await self._embed_call(
                            codec, http, budget, attempt, request
                        )
                        self._check_length(response, candidate, request)
                    except ProviderError as error:
                        if hold is not None:
                            hold.release()
                        span.set("outcome", error.kind.value)
                        span.set("error.type", error.kind.value)
                        self._on_failure(
                            attempt, candidate, error, attempt.started, decision, schedule
                        )
                        continue
                    span.set("outcome", "ok")
                    span.set(
                        "gen_ai.response.model", response_model(response.model, candidate.model)
                    )
                    if response.input_tokens is not None:
                        span.set("gen_ai.usage.input_tokens", response.input_tokens)
                    self._succeeded(attempt, candidate, attempt.started)
                    return EmbeddingResult(response, candidate, hold)
        raise self._exhausted(attempts)

    def _prepare_embeddings(
        self, candidate: Candidate, request: EmbeddingRequest, redactor: TextRedactor
    ) -> tuple[EmbeddingProviderCodec, HttpRequest]:
        codec = self._embedding_codecs[candidate.id]
        outgoing = redacted(request, redactor, candidate.redact)
        try:
            http = codec.encode_embeddings(outgoing, self._target(candidate))
        except InvalidRequest as error:
            # Nothing was sent: a half-open circuit's probe slot goes back unused.
            self.health[candidate.id].breaker.release()
            raise BadRequest(error.message, param=error.param) from None
        return codec, http

    async def _embed_call(
        self,
        codec: EmbeddingProviderCodec,
        http: HttpRequest,
        budget: float,
        attempt: Attempt,
        request: EmbeddingRequest,
    ) -> tuple[EmbeddingResponse, Reservation]:
        upstream = await self._transport.send(http, max(budget, 0.001))
        attempt.status = upstream.status
        try:
            if upstream.status >= 300:
                raise codec.decode_error(upstream.status, upstream.headers, upstream.body)
            self._check_content_type(upstream.headers, stream=False)
            if len(upstream.body) < OFF_LOOP_BYTES:
                return codec.decode_embeddings(upstream.body, request), upstream.hold
            # A large answer (a batch of long vectors) is read and checked on a thread, so
            # the loop goes on serving the others between the interpreter's switches.
            decode = codec.decode_embeddings
            return await asyncio.to_thread(decode, upstream.body, request), upstream.hold
        except CODEC_ERRORS as error:
            upstream.hold.release()
            raise unreadable(attempt.provider, error) from None
        except ProviderError:
            upstream.hold.release()
            raise

    def _check_length(
        self, response: EmbeddingResponse, candidate: Candidate, request: EmbeddingRequest
    ) -> None:
        """Without `dimensions` asked, vectors of another length than the model's
        (`model_attributes` `dimensions`) come from another model: a deployment pointed
        at the wrong one, say. (With it, the codec checked the length asked for.)"""
        native = self._dimensions.get((candidate.id, candidate.model))
        if native is None or request.dimensions is not None or not response.vectors:
            return
        length = len(response.vectors[0])
        if length != native:
            raise ProviderError(
                ProviderErrorKind.MALFORMED_RESPONSE,
                f"vectors of {length} dimensions from a model of {native}",
            )

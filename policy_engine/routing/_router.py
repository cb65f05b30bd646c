"""Attempts: try the planned candidates, retry and fall back, never outside the plan.

The plan is built from the decision's allowed set only, and this module never looks
anywhere else for a provider, so invariant 1 holds by construction; the tests try to
break it anyway.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, aclosing
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import SecretStr

from adapters import (
    ChatRequest,
    ChatResponse,
    CloudCredentials,
    Feature,
    HttpRequest,
    InvalidRequest,
    ProviderCodec,
    ProviderError,
    ProviderErrorKind,
    ProviderTarget,
    StreamDecoder,
    StreamEnd,
    StreamEvent,
    StreamStart,
    provider_codec,
)
from policy_engine._config import ProviderConfig, RoutingSettings
from policy_engine._errors import BadRequest, ProviderRejected, ProvidersUnavailable
from policy_engine.decision import PolicyDecision
from policy_engine.routing._budget import Reservation
from policy_engine.routing._guard import CODEC_ERRORS, feed, unreadable
from policy_engine.routing._health import CircuitBreaker, ProviderHealth
from policy_engine.routing._plan import Candidate, plan_route, unmet_needs
from policy_engine.routing._schedule import Schedule
from policy_engine.routing._scrub import KeyScrubber
from policy_engine.routing._transport import UpstreamTransport
from policy_engine.telemetry import (
    LiveSpan,
    Metrics,
    Tracer,
    attempt_span,
    get_logger,
    response_model,
    set_answer,
)

_log = get_logger("policy_engine.routing")


class RequestRedactor(Protocol):
    def redact_request(self, request: ChatRequest, types: frozenset[str]) -> ChatRequest: ...


BeforeFirstSend = Callable[[], Awaitable[None]]
"""Awaited once per request, after the first candidate's request is redacted and before
its first byte is sent; what it raises stops the request with nothing sent."""


@dataclass(slots=True)
class Attempt:
    provider: str
    outcome: str = "pending"  # "ok" or a ProviderErrorKind value
    status: int | None = None
    latency_ms: float = 0.0
    model: str = ""  # the provider model it was sent to
    started: float = 0.0  # time.perf_counter() when it was admitted

    def summary(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "model": self.model,
            "outcome": self.outcome,
            "status": self.status,
            "latency_ms": round(self.latency_ms, 3),
        }


@dataclass(slots=True)
class RouteResult:
    response: ChatResponse
    candidate: Candidate
    hold: Reservation  # the answer's share of the memory budget, while it is kept


@dataclass(slots=True)
class StreamRoute:
    """A stream committed to one provider: its first events, then the rest, read by read."""

    candidate: Candidate
    first: list[StreamEvent]
    rest: AsyncGenerator[list[StreamEvent], None]
    _exit: AsyncExitStack = field(repr=False)
    span: LiveSpan = field(repr=False)  # the attempt's; its answer and usage are set at the end

    async def aclose(self) -> None:
        await self.rest.aclose()
        await self._exit.aclose()


# Bedrock streams AWS's binary event stream, the others server-sent events.
_CONTENT_TYPES = {False: ("json",), True: ("event-stream", "vnd.amazon.eventstream")}
_MAX_PROVIDER_MESSAGE = 500  # characters of a provider's error text shown to the client


class Router:
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
        self._tracer = tracer
        self._settings = settings
        # A provider whose configured key is missing is never called: it is left out of
        # every plan (the sidecar says so at startup, in /readyz and in audit records).
        self.not_ready: dict[str, str] = {
            p.id: "no_api_key"
            for p in providers
            if (p.api_key_env or p.api_key_file) and api_keys.get(p.id) is None
        }
        # Likewise a Bedrock or Vertex provider whose cloud credentials could not be had.
        cloud = credentials or {}
        self.not_ready |= {
            p.id: "no_credentials" for p in providers if p.cloud_signed and p.id not in cloud
        }
        self._providers = [p for p in providers if p.id not in self.not_ready]
        self._api_keys = api_keys
        self._transport = transport
        self._metrics = metrics
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._codecs: dict[str, ProviderCodec] = {
            p.id: provider_codec(p.adapter, cloud.get(p.id)) for p in providers
        }
        self._targets: dict[tuple[str, str], ProviderTarget] = {}
        self._scrubber = KeyScrubber(k.get_secret_value() for k in api_keys.values() if k)
        self.health = {
            p.id: ProviderHealth(
                CircuitBreaker(settings.circuit_failure_threshold, settings.circuit_open_s)
            )
            for p in providers
        }

    def plan(
        self, decision: PolicyDecision, alias: str, needs: frozenset[Feature] = frozenset()
    ) -> list[Candidate]:
        return plan_route(
            decision, alias, self._providers, self.health, self._settings.strategy, needs
        )

    def skipped(
        self, decision: PolicyDecision, alias: str, needs: frozenset[Feature]
    ) -> dict[str, list[Feature]]:
        """The allowed candidates the plan skips for a feature they cannot honour."""
        return unmet_needs(decision, alias, self._providers, needs)

    def _target(self, candidate: Candidate) -> ProviderTarget:
        # Built once per (provider, model): config and keys do not change while serving.
        target = self._targets.get((candidate.id, candidate.model))
        if target is None:
            key = self._api_keys.get(candidate.id)
            target = self._targets[candidate.id, candidate.model] = ProviderTarget(
                base_url=candidate.provider.base_url,
                model=candidate.model,
                api_key=key.get_secret_value() if key else None,
                options=candidate.provider.options,
            )
        return target

    # -- outcomes ---------------------------------------------------------------

    def _succeeded(self, attempt: Attempt, candidate: Candidate, started: float) -> None:
        seconds = time.perf_counter() - started
        attempt.outcome, attempt.latency_ms = "ok", seconds * 1000
        health = self.health[candidate.id]
        health.breaker.record_success()
        health.latency.observe(seconds)
        self._metrics.provider_seconds_by(candidate.id).observe(seconds)
        self._metrics.set_circuit(candidate.id, health.breaker.state.value)

    def _failed(
        self, attempt: Attempt, candidate: Candidate, error: ProviderError, started: float
    ) -> None:
        attempt.outcome = error.kind.value
        attempt.status = error.status
        attempt.latency_ms = (time.perf_counter() - started) * 1000
        breaker = self.health[candidate.id].breaker
        if error.retryable or error.kind is ProviderErrorKind.AUTH:
            breaker.record_failure()
        else:
            breaker.release()
        self._metrics.provider_failures_by(candidate.id, error.kind.value).inc()
        self._metrics.set_circuit(candidate.id, breaker.state.value)
        if error.kind is ProviderErrorKind.AUTH:
            self._metrics.misconfigured.labels(candidate.id).set(1)
            _log.error(
                "provider_misconfigured",
                provider=candidate.id,
                status=error.status,
                hint="the provider rejected our credentials; check its api key",
            )
        else:
            _log.warning(
                "attempt_failed", provider=candidate.id, kind=error.kind.value, status=error.status
            )

    def _raise_if_final(self, error: ProviderError, decision: PolicyDecision) -> None:
        """Errors about the request itself go back to the client: no provider would do better."""
        if error.kind is ProviderErrorKind.INVALID_REQUEST:
            raise ProviderRejected(
                error.status,
                "invalid_request",
                "the provider rejected the request",
                self._client_text(error),
                error.param,
            )
        if (
            error.kind is ProviderErrorKind.CONTENT_FILTER
            and not decision.obligations.allow_refusal_fallback
        ):
            raise ProviderRejected(
                error.status,
                "content_filter",
                "the provider refused the request under its content policy",
                self._client_text(error),
                error.param,
            )

    def _client_text(self, error: ProviderError) -> str:
        # The provider's own words reach the client; some echo the request headers back,
        # and no key of ours may leave with them, whole or in part.
        return self._scrubber.scrub(error.message, _MAX_PROVIDER_MESSAGE)

    @staticmethod
    def _exhausted(attempts: Sequence[Attempt]) -> ProvidersUnavailable:
        if not attempts:
            return ProvidersUnavailable(
                "no allowed provider is available (all circuits open or deadline passed)"
            )
        tried = "; ".join(
            f"{a.provider}: {a.outcome}" + (f" ({a.status})" if a.status else "") for a in attempts
        )
        return ProvidersUnavailable(f"all allowed providers failed: {tried}")

    @staticmethod
    def _check_refusal(finish_reason: str, decision: PolicyDecision) -> None:
        """A refusal sent as an answer (Anthropic's stop_reason "refusal") counts as a
        content filter, so a tenant that allows refusal fallback gets another provider."""
        if finish_reason == "content_filter" and decision.obligations.allow_refusal_fallback:
            raise ProviderError(
                ProviderErrorKind.CONTENT_FILTER, "the provider refused the request"
            )

    def _check_content_type(self, headers: Mapping[str, str], stream: bool) -> None:
        content_type = headers.get("content-type", "")
        if not any(kind in content_type for kind in _CONTENT_TYPES[stream]):
            raise ProviderError(
                ProviderErrorKind.MALFORMED_RESPONSE,
                f"unexpected content type {content_type.split(';')[0] or 'none'}",
            )

    # -- the two ways to call -----------------------------------------------------

    def _schedule(self, plan: Sequence[Candidate]) -> Schedule:
        deadline = time.monotonic() + self._settings.deadline_s
        return Schedule(self._settings, self.health, self._rng, plan, deadline)

    def _prepare(
        self, candidate: Candidate, request: ChatRequest, redactor: RequestRedactor
    ) -> tuple[ProviderCodec, HttpRequest]:
        codec = self._codecs[candidate.id]
        outgoing = redactor.redact_request(request, candidate.redact)
        try:
            http = codec.encode_request(outgoing, self._target(candidate))
        except InvalidRequest as error:
            # The request cannot be put in this provider's terms (say, tool arguments
            # that are not JSON for Anthropic or Gemini): the client's to fix. Nothing
            # was sent, so a half-open circuit's probe slot goes back unused.
            self.health[candidate.id].breaker.release()
            raise BadRequest(error.message, param=error.param) from None
        return codec, http

    async def _admit(
        self, candidate: Candidate, attempts: list[Attempt], before_first_send: BeforeFirstSend
    ) -> Attempt:
        """The attempt about to be sent; a request's first waits for `before_first_send`."""
        if not attempts:
            try:
                await before_first_send()
            except BaseException:
                # Nothing was sent: a half-open circuit's probe slot goes back unused.
                self.health[candidate.id].breaker.release()
                raise
        attempt = Attempt(candidate.id, model=candidate.model, started=time.perf_counter())
        attempts.append(attempt)
        self._metrics.provider_requests_by(candidate.id).inc()
        return attempt

    def _on_failure(
        self,
        attempt: Attempt,
        candidate: Candidate,
        error: ProviderError,
        started: float,
        decision: PolicyDecision,
        schedule: Schedule,
    ) -> None:
        error.status = error.status or attempt.status
        self._failed(attempt, candidate, error, started)
        self._raise_if_final(error, decision)
        schedule.failed(candidate, error)

    async def _call(
        self, codec: ProviderCodec, http: HttpRequest, budget: float, attempt: Attempt
    ) -> tuple[ChatResponse, Reservation]:
        upstream = await self._transport.send(http, max(budget, 0.001), attempt.provider)
        attempt.status = upstream.status
        try:
            if upstream.status >= 300:
                raise codec.decode_error(upstream.status, upstream.headers, upstream.body)
            self._check_content_type(upstream.headers, stream=False)
            return codec.decode_response(upstream.body), upstream.hold
        except CODEC_ERRORS as error:
            upstream.hold.release()
            raise unreadable(attempt.provider, error) from None
        except ProviderError:
            upstream.hold.release()
            raise

    async def complete(
        self,
        request: ChatRequest,
        plan: Sequence[Candidate],
        decision: PolicyDecision,
        redactor: RequestRedactor,
        attempts: list[Attempt],
        before_first_send: BeforeFirstSend,
    ) -> RouteResult:
        schedule = self._schedule(plan)
        async with aclosing(schedule.candidates()) as candidates:
            async for candidate in candidates:
                codec, http = self._prepare(candidate, request, redactor)
                attempt = await self._admit(candidate, attempts, before_first_send)
                started = attempt.started
                budget = min(self._settings.attempt_timeout_s, schedule.remaining())
                hold: Reservation | None = None
                with attempt_span(
                    self._tracer, candidate.id, candidate.provider.adapter, candidate.model, request
                ) as span:
                    try:
                        response, hold = await self._call(codec, http, budget, attempt)
                        self._check_refusal(response.finish_reason, decision)
                    except ProviderError as error:
                        if hold is not None:
                            hold.release()
                        span.set("outcome", error.kind.value)
                        span.set("error.type", error.kind.value)
                        self._on_failure(attempt, candidate, error, started, decision, schedule)
                        continue
                    span.set("outcome", "ok")
                    answer_model = response_model(response.model, candidate.model)
                    set_answer(span, answer_model, response.usage)
                    span.set("gen_ai.response.finish_reasons", (response.finish_reason,))
                    self._succeeded(attempt, candidate, started)
                    return RouteResult(response, candidate, hold)
        raise self._exhausted(attempts)

    async def _open(
        self,
        codec: ProviderCodec,
        http: HttpRequest,
        attempt: Attempt,
        exit_stack: AsyncExitStack,
        schedule: Schedule,
    ) -> tuple[list[StreamEvent], StreamDecoder, AsyncGenerator[bytes, None]]:
        """Open the stream and read until its first content event (or its end); the
        rest is read by `routing.deadline_s` too."""
        try:
            async with asyncio.timeout_at(schedule.deadline_loop_time()):
                upstream = await exit_stack.enter_async_context(
                    self._transport.open(http, attempt.provider)
                )
                attempt.status = upstream.status
                if upstream.status >= 300:
                    body = await upstream.read_all()
                    try:
                        error = codec.decode_error(upstream.status, upstream.headers, body)
                    except CODEC_ERRORS as codec_error:
                        raise unreadable(attempt.provider, codec_error) from None
                    raise error
                self._check_content_type(upstream.headers, stream=True)
                decoder = codec.stream_decoder()
                chunks = upstream.chunks(schedule.deadline, decoder)
                exit_stack.push_async_callback(chunks.aclose)
                first: list[StreamEvent] = []
                async for chunk in chunks:
                    first.extend(feed(attempt.provider, decoder, chunk))
                    if any(not isinstance(e, StreamStart) for e in first):
                        break
                else:
                    first.extend(feed(attempt.provider, decoder, None))
        except TimeoutError:
            raise ProviderError(ProviderErrorKind.TIMEOUT, "attempt timed out") from None
        return first, decoder, chunks

    async def open_stream(
        self,
        request: ChatRequest,
        plan: Sequence[Candidate],
        decision: PolicyDecision,
        redactor: RequestRedactor,
        attempts: list[Attempt],
        before_first_send: BeforeFirstSend,
    ) -> StreamRoute:
        """Fail over freely until a provider produced its first content event, then commit."""
        schedule = self._schedule(plan)
        async with aclosing(schedule.candidates()) as candidates:
            async for candidate in candidates:
                codec, http = self._prepare(candidate, request, redactor)
                attempt = await self._admit(candidate, attempts, before_first_send)
                started = attempt.started
                span = attempt_span(
                    self._tracer, candidate.id, candidate.provider.adapter, candidate.model, request
                )
                exit_stack = AsyncExitStack()
                exit_stack.callback(span.end)  # a committed stream's span ends with the stream
                try:
                    first, decoder, chunks = await self._open(
                        codec, http, attempt, exit_stack, schedule
                    )
                    opening = next((e for e in first if not isinstance(e, StreamStart)), None)
                    if isinstance(opening, StreamEnd):
                        self._check_refusal(opening.finish_reason, decision)
                except ProviderError as error:
                    span.set("outcome", error.kind.value)
                    span.set("error.type", error.kind.value)
                    await exit_stack.aclose()
                    self._on_failure(attempt, candidate, error, started, decision, schedule)
                    continue
                span.set("outcome", "ok")
                self._succeeded(attempt, candidate, started)
                rest = self._rest(candidate, attempt, decoder, chunks, started)
                return StreamRoute(candidate, first, rest, exit_stack, span)
        raise self._exhausted(attempts)

    async def _rest(
        self,
        candidate: Candidate,
        attempt: Attempt,
        decoder: StreamDecoder,
        chunks: AsyncGenerator[bytes, None],
        started: float,
    ) -> AsyncGenerator[list[StreamEvent], None]:
        """The events of each read together, so they can be written to the client at once."""
        try:
            async for chunk in chunks:
                if events := feed(candidate.id, decoder, chunk):
                    yield events
            if events := feed(candidate.id, decoder, None):
                yield events
        except ProviderError as error:
            error.status = error.status or attempt.status
            self._failed(attempt, candidate, error, started)
            raise

"""Builds every component once from the settings and owns their lifetimes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from adapters import CredentialsUnavailable, keep_fresh, load_all
from adapters._native import loaded_compiled, pure_python
from policy_engine._auth import Authenticator
from policy_engine._config import (
    Settings,
    resolve_api_keys,
    resolve_caller_tokens,
    resolve_cloud_credentials,
    resolve_redis_password,
    resolve_replica,
    resolve_s3_credentials,
)
from policy_engine._errors import ConfigError
from policy_engine.audit import (
    AuditLog,
    RecordKind,
    ShipMetrics,
    Shipper,
    replica_root,
)
from policy_engine.decision import (
    Decider,
    DecisionEngine,
    EmbeddedEngine,
    decider_from_settings,
    engine_from_settings,
)
from policy_engine.fleet import Fleet
from policy_engine.pipeline import AuditSink, EmbeddingPipeline, Pipeline
from policy_engine.redaction import NATIVE_SCAN, RedactionError, Redactor, default_redactor
from policy_engine.routing import (
    AnswerBudget,
    EmbeddingRouter,
    UpstreamTransport,
    egress_from_settings,
)
from policy_engine.telemetry import Metrics, Tracer, get_logger, tracer_from_settings

_log = get_logger("policy_engine.sidecar")
_FINAL_SHIP_S = 10.0


class _NoAudit:
    """Stands in for the audit log when `stages.audit` is off (benchmarks only)."""

    healthy = True

    def submit(self, event: dict[str, Any], kind: RecordKind = "request") -> asyncio.Future[int]:
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        done.set_result(0)
        return done

    async def close(self) -> None:
        return None


@dataclass(slots=True)
class Sidecar:
    settings: Settings
    engine: DecisionEngine
    decider: Decider
    router: EmbeddingRouter
    transport: UpstreamTransport
    audit: AuditSink
    metrics: Metrics
    pipeline: Pipeline
    authenticator: Authenticator
    tracer: Tracer
    embeddings: EmbeddingPipeline
    fleet: Fleet | None = None
    shipper: Shipper | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def start(cls, settings: Settings) -> Sidecar:
        metrics = Metrics()
        engine = engine_from_settings(settings)
        decider = decider_from_settings(settings, engine)
        budget = AnswerBudget(settings.routing.max_buffered_answer_bytes)
        egress = egress_from_settings(settings)
        for provider_id, way_out in egress.providers.items():
            _log.info("egress", provider=provider_id, route=way_out.describe())
        transport = UpstreamTransport(
            connect_timeout_s=settings.routing.connect_timeout_s,
            first_byte_timeout_s=settings.routing.first_byte_timeout_s,
            max_response_bytes=settings.routing.max_answer_bytes,
            budget=budget,
            egress=egress,
        )
        metrics.watch_answer_budget(budget)
        tracer = tracer_from_settings(settings.logging.tracing)
        keys = resolve_api_keys(settings)
        cloud = resolve_cloud_credentials(settings)
        # Fetched in worker threads (botocore and google-auth do blocking HTTP).
        cloud_missing = await load_all(cloud)
        credentials = {i: holder for i, holder in cloud.items() if i not in cloud_missing}
        router = EmbeddingRouter(
            settings.routing,
            settings.providers,
            keys.keys,
            transport,
            metrics,
            tracer,
            credentials=credentials,
        )
        for provider_id, reason in (keys.missing | cloud_missing).items():
            # Started without it rather than refused: one absent key (a provider not signed
            # up for yet) should not take down the others; the router never calls it.
            metrics.misconfigured.labels(provider_id).set(1)
            _log.warning(
                "provider_not_ready",
                provider=provider_id,
                reason=reason,
                hint="never called without its key or credentials; set them and restart",
            )
        authenticator = Authenticator(resolve_caller_tokens(settings))
        stages = settings.stages
        audit: AuditSink = await AuditLog.open(settings.audit) if stages.audit else _NoAudit()
        try:
            redactor = default_redactor(
                ner=settings.redaction.ner,
                phone_regions=settings.redaction.phone_regions,
                cache_entries=settings.redaction.detection_cache_entries,
            )
        except RedactionError as error:
            raise ConfigError(f"redaction.ner: {error}") from None
        if not stages.redaction:
            redactor = Redactor([])
        # tools/native.py: the hot modules run compiled unless built nowhere or set aside.
        _log.info(
            "compiled_modules",
            count=loaded_compiled(),
            native_scan=NATIVE_SCAN,
            pure_python=pure_python(),
        )
        for stage, on in (("redaction", stages.redaction), ("audit", stages.audit)):
            if not on:
                _log.error("stage_disabled", stage=stage, hint="for benchmarks only")
        fleet = Fleet.start(
            settings.fleet,
            resolve_replica(settings),
            resolve_redis_password(settings),
            _prices(settings),
            {provider: health.breaker for provider, health in router.health.items()},
            metrics.registry,
            metrics.set_circuit,
        )
        pipeline = Pipeline(
            settings,
            decider,
            router,
            redactor,
            audit,
            metrics,
            authenticator,
            tracer,
            limits=fleet.limiter,
        )
        # POST /v1/embeddings: the same stages around its own plan and call.
        embeddings = EmbeddingPipeline(
            settings,
            decider,
            router,
            redactor,
            audit,
            metrics,
            authenticator,
            tracer,
            limits=fleet.limiter,
        )
        sidecar = cls(
            settings,
            engine,
            decider,
            router,
            transport,
            audit,
            metrics,
            pipeline,
            authenticator,
            tracer,
            embeddings,
            fleet,
        )
        metrics.audit_healthy.set_function(lambda: float(audit.healthy))
        if settings.shipping is not None and stages.audit:
            sidecar.shipper = _shipper(settings, fleet.replica, metrics)
            interval = settings.shipping.interval_s
            sidecar._tasks.append(asyncio.create_task(sidecar.shipper.run(interval)))
        if isinstance(engine, EmbeddedEngine):
            sidecar._tasks.append(asyncio.create_task(engine.watch(sidecar._policy_reloaded)))
        for provider_id, holder in credentials.items():
            refresh = keep_fresh(holder, _refresh_failed(provider_id))
            sidecar._tasks.append(asyncio.create_task(refresh))
        return sidecar

    def _policy_reloaded(self, revision: str, error: str | None) -> None:
        if error is None:
            self.metrics.policy_reloads.labels("loaded").inc()
            _log.info("policy_reloaded", revision=revision)
        else:
            self.metrics.policy_reloads.labels("refused").inc()
            _log.error("policy_reload_refused", serving_revision=revision, reason=error)

    @property
    def not_ready(self) -> dict[str, str]:
        """Providers never called, and why (`no_api_key`); the log line says which key."""
        return self.router.not_ready

    async def ready(self) -> dict[str, bool]:
        callable_providers = len(self.settings.providers) > len(self.not_ready)
        checks = {
            "policy": await self.engine.ready(),
            "audit": self.audit.healthy,
            "providers": callable_providers,
        }
        if self.shipper is not None:
            checks["shipping"] = self.shipper.ready
        return checks

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.fleet is not None:
            await self.fleet.close()
        await self.transport.close()
        await self.engine.close()
        await self.audit.close()
        if self.shipper is not None:
            # The final checkpoint is written: ship it, within a bound.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.shipper.round(), _FINAL_SHIP_S)
        self.tracer.close()


def _refresh_failed(provider_id: str) -> Callable[[CredentialsUnavailable], None]:
    def report(error: CredentialsUnavailable) -> None:
        # The credentials in hand stay in use until the provider refuses them.
        _log.error(
            "credentials_refresh_failed",
            provider=provider_id,
            reason=error.message,
            hint="tried again in 30 s; the provider refuses the old ones once they expire",
        )

    return report


def _prices(settings: Settings) -> dict[str, tuple[float, float]]:
    """Each priced provider's (USD per 1M input, per 1M output tokens), for budgets."""
    return {
        p.id: (p.attributes.price_per_1m_input, p.attributes.price_per_1m_output)
        for p in settings.providers
        if p.attributes.price_per_1m_input is not None
        and p.attributes.price_per_1m_output is not None
    }


def _shipper(settings: Settings, replica: str, metrics: Metrics) -> Shipper:
    # Imported only when shipping is configured: boto3 takes tens of MB per process.
    from policy_engine.audit import ObjectStore, client_from_settings

    shipping = settings.shipping
    assert shipping is not None
    client = client_from_settings(shipping, resolve_s3_credentials(settings))
    store = ObjectStore(client, shipping.bucket, shipping.retention_mode, shipping.retention_days)
    return Shipper(
        settings.audit.dir,
        store,
        replica_root(shipping.prefix, replica),
        ShipMetrics(metrics.registry),
        shipping.max_backlog_records,
        shipping.max_lag_s,
    )

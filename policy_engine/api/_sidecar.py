"""Builds every component once from the settings and owns their lifetimes."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from adapters._native import loaded_compiled, pure_python
from policy_engine._auth import Authenticator
from policy_engine._config import Settings, resolve_api_keys, resolve_caller_tokens
from policy_engine._errors import ConfigError
from policy_engine.audit import AuditLog
from policy_engine.decision import (
    Decider,
    DecisionEngine,
    EmbeddedEngine,
    decider_from_settings,
    engine_from_settings,
)
from policy_engine.pipeline import AuditSink, Pipeline
from policy_engine.redaction import NATIVE_SCAN, RedactionError, Redactor, default_redactor
from policy_engine.routing import Router, UpstreamTransport
from policy_engine.telemetry import Metrics, Tracer, get_logger, tracer_from_settings

_log = get_logger("policy_engine.sidecar")


class _NoAudit:
    """Stands in for the audit log when `stages.audit` is off (benchmarks only)."""

    healthy = True

    def submit(self, event: dict[str, Any]) -> asyncio.Future[int]:
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
    router: Router
    transport: UpstreamTransport
    audit: AuditSink
    metrics: Metrics
    pipeline: Pipeline
    authenticator: Authenticator
    tracer: Tracer
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def start(cls, settings: Settings) -> Sidecar:
        metrics = Metrics()
        engine = engine_from_settings(settings)
        decider = decider_from_settings(settings, engine)
        transport = UpstreamTransport(
            connect_timeout_s=settings.routing.connect_timeout_s,
            first_byte_timeout_s=settings.routing.first_byte_timeout_s,
        )
        tracer = tracer_from_settings(settings.logging.tracing)
        router = Router(
            settings.routing,
            settings.providers,
            resolve_api_keys(settings),
            transport,
            metrics,
            tracer,
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
        pipeline = Pipeline(
            settings, decider, router, redactor, audit, metrics, authenticator, tracer
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
        )
        metrics.audit_healthy.set_function(lambda: float(audit.healthy))
        if isinstance(engine, EmbeddedEngine):
            sidecar._tasks.append(asyncio.create_task(engine.watch(sidecar._policy_reloaded)))
        return sidecar

    def _policy_reloaded(self, revision: str, error: str | None) -> None:
        if error is None:
            self.metrics.policy_reloads.labels("loaded").inc()
            _log.info("policy_reloaded", revision=revision)
        else:
            self.metrics.policy_reloads.labels("refused").inc()
            _log.error("policy_reload_refused", serving_revision=revision, reason=error)

    async def ready(self) -> dict[str, bool]:
        return {"policy": await self.engine.ready(), "audit": self.audit.healthy}

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.transport.close()
        await self.engine.close()
        await self.audit.close()
        self.tracer.close()

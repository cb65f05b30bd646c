"""Builds every component once from the settings and owns their lifetimes."""

from __future__ import annotations

from dataclasses import dataclass

from policy_engine._auth import Authenticator
from policy_engine._config import Settings, resolve_api_keys, resolve_caller_tokens
from policy_engine._context import provider_catalog
from policy_engine.audit import AuditLog
from policy_engine.decision import Decider, DecisionEngine, engine_from_settings
from policy_engine.pipeline import Pipeline
from policy_engine.redaction import default_redactor
from policy_engine.routing import Router, UpstreamTransport
from policy_engine.telemetry import Metrics


@dataclass(slots=True)
class Sidecar:
    settings: Settings
    engine: DecisionEngine
    decider: Decider
    router: Router
    transport: UpstreamTransport
    audit: AuditLog
    metrics: Metrics
    pipeline: Pipeline
    authenticator: Authenticator

    @classmethod
    async def start(cls, settings: Settings) -> Sidecar:
        metrics = Metrics()
        engine = engine_from_settings(settings)
        decider = Decider(engine, provider_catalog(settings), settings.policy.timeout_ms)
        transport = UpstreamTransport(
            connect_timeout_s=settings.routing.connect_timeout_s,
            first_byte_timeout_s=settings.routing.first_byte_timeout_s,
        )
        router = Router(
            settings.routing, settings.providers, resolve_api_keys(settings), transport, metrics
        )
        authenticator = Authenticator(resolve_caller_tokens(settings))
        audit = await AuditLog.open(settings.audit)
        pipeline = Pipeline(
            settings, decider, router, default_redactor(), audit, metrics, authenticator
        )
        return cls(
            settings, engine, decider, router, transport, audit, metrics, pipeline, authenticator
        )

    async def ready(self) -> dict[str, bool]:
        return {"policy": await self.engine.ready(), "audit": self.audit.healthy}

    async def stop(self) -> None:
        await self.transport.close()
        await self.engine.close()
        await self.audit.close()

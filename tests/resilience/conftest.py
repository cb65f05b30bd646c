"""One report over the small deployment, built once: building it is the slow part."""

from __future__ import annotations

import asyncio

import pytest

from policy_engine._config import Settings
from policy_engine._context import provider_catalog
from policy_engine.decision import Decider, EmbeddedEngine
from policy_engine.resilience import ResilienceReport, build_report, read_policy_facts
from tests.resilience._support import settings_for


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return settings_for(tmp_path_factory.mktemp("deployment"))


def decider_for(settings: Settings) -> Decider:
    engine = EmbeddedEngine(settings.policy.policy_dir, settings.policy.entrypoint)
    return Decider(engine, provider_catalog(settings), settings.policy.timeout_ms)


async def _report(settings: Settings) -> ResilienceReport:
    return await build_report(decider_for(settings), settings, await read_policy_facts(settings))


@pytest.fixture(scope="module")
def report(settings: Settings) -> ResilienceReport:
    return asyncio.run(_report(settings))

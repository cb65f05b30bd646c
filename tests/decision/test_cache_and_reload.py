"""The decision cache never crosses revisions; policy edits are picked up without restart."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from policy_engine._config import load_config
from policy_engine._context import RoutingContext, provider_catalog
from policy_engine._errors import PolicyUnavailable
from policy_engine.decision import Decider, DecisionCache, EmbeddedEngine
from tests.decision._support import DEMO_CONFIG, POLICY_DIR


def context(tenant: str = "acme-eu", input_chars: int = 10, **changes: object) -> RoutingContext:
    values: dict[str, object] = {
        "tenant": tenant,
        "residency": None,
        "privacy_tags": (),
        "model": "default",
        "stream": False,
        "input_chars": input_chars,
        "protocol": "openai",
    }
    values.update(changes)
    return RoutingContext(**values)  # type: ignore[arg-type]


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, target, ignore=shutil.ignore_patterns("*_test.rego"))
    return target


def decider_for(policy_dir: Path, cache_size: int = 16) -> Decider:
    catalog = provider_catalog(load_config(DEMO_CONFIG))
    return Decider(EmbeddedEngine(policy_dir, "router/decision"), catalog, 250, cache_size)


async def test_a_repeated_context_is_served_from_the_cache(policy_dir: Path) -> None:
    decider = decider_for(policy_dir)
    first = await decider.decide(context())
    assert await decider.decide(context()) is first


async def test_fields_the_policy_never_names_stay_out_of_the_key(policy_dir: Path) -> None:
    decider = decider_for(policy_dir)
    assert "input_chars" not in (decider.engine.cache_fields or ())
    first = await decider.decide(context(input_chars=10))
    assert await decider.decide(context(input_chars=99_999)) is first


async def test_a_field_the_policy_names_is_part_of_the_key(policy_dir: Path) -> None:
    (policy_dir / "router" / "size.rego").write_text(
        "package router\n\n"
        'denial contains [id, "size: too large"] if {\n'
        "\tinput.request.input_chars > 1000\n"
        "\tsome id in object.keys(providers)\n"
        "}\n"
    )
    decider = decider_for(policy_dir)
    small = await decider.decide(context(input_chars=10))
    large = await decider.decide(context(input_chars=5000))
    assert small.allowed and not large.allowed


async def test_different_tenants_never_share_an_entry(policy_dir: Path) -> None:
    decider = decider_for(policy_dir)
    eu = await decider.decide(context("acme-eu"))
    us = await decider.decide(context("medibridge-us"))
    assert eu.allowed != us.allowed


def test_the_cache_is_bounded_and_evicts_the_least_recently_used() -> None:
    cache = DecisionCache(2)
    decision = object()
    cache.put(("a",), decision)  # type: ignore[arg-type]
    cache.put(("b",), decision)  # type: ignore[arg-type]
    cache.get(("a",))
    cache.put(("c",), decision)  # type: ignore[arg-type]
    assert len(cache) == 2
    assert cache.get(("b",)) is None
    assert cache.get(("a",)) is decision


async def test_an_edited_policy_gets_a_new_revision_and_new_decisions(policy_dir: Path) -> None:
    decider = decider_for(policy_dir)
    before = await decider.decide(context("sandbox"))
    assert "vllm-onprem" in before.allowed
    tenants = policy_dir / "tenants" / "data.json"
    tenants.write_text(
        tenants.read_text().replace(
            '"sandbox": {', '"sandbox": {\n    "deny_providers": ["vllm-onprem"],', 1
        )
    )
    assert decider.engine.reload() if isinstance(decider.engine, EmbeddedEngine) else False
    after = await decider.decide(context("sandbox"))
    assert after.revision != before.revision
    assert "vllm-onprem" not in after.allowed


async def test_a_policy_that_no_longer_compiles_is_refused_and_the_old_one_serves(
    policy_dir: Path,
) -> None:
    engine = EmbeddedEngine(policy_dir, "router/decision")
    revision = engine.revision
    (policy_dir / "router" / "broken.rego").write_text("package router\n\nthis is not rego\n")
    with pytest.raises(PolicyUnavailable):
        engine.reload()
    assert engine.revision == revision
    result, served = await engine.evaluate({"tenant": "sandbox", "request": {}, "providers": {}})
    assert served == revision and result is not None


async def test_the_watcher_reloads_when_a_file_changes(policy_dir: Path) -> None:
    engine = EmbeddedEngine(policy_dir, "router/decision")
    reloaded: asyncio.Queue[tuple[str, str | None]] = asyncio.Queue()
    watcher = asyncio.create_task(engine.watch(lambda r, e: reloaded.put_nowait((r, e))))
    try:
        # The watcher subscribes asynchronously: edit until it reports (bounded).
        for attempt in range(20):
            extra = policy_dir / "router" / "extra.rego"
            extra.write_text(f"package router\n\nextra := {attempt}\n")
            try:
                revision, error = await asyncio.wait_for(reloaded.get(), 1)
                break
            except TimeoutError:
                continue
        else:
            pytest.fail("the watcher never reported a reload")
    finally:
        watcher.cancel()
    assert error is None
    assert revision == engine.revision


class CountingEngine:
    """The real embedded engine, counting how often it is asked to evaluate."""

    def __init__(self, engine: EmbeddedEngine) -> None:
        self.engine = engine
        self.evaluations = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.engine, name)

    async def evaluate(self, policy_input: dict[str, object]) -> tuple[object, str]:
        self.evaluations += 1
        return await self.engine.evaluate(policy_input)


def counting_decider(policy_dir: Path) -> tuple[Decider, CountingEngine]:
    counting = CountingEngine(EmbeddedEngine(policy_dir, "router/decision"))
    catalog = provider_catalog(load_config(DEMO_CONFIG))
    return Decider(counting, catalog, 250, 16), counting  # type: ignore[arg-type]


async def test_concurrent_misses_on_one_context_share_one_evaluation(policy_dir: Path) -> None:
    decider, counting = counting_decider(policy_dir)
    decisions = await asyncio.gather(*(decider.decide(context()) for _ in range(20)))
    assert counting.evaluations == 1
    assert all(d is decisions[0] for d in decisions)
    await decider.decide(context("medibridge-us"))
    assert counting.evaluations == 2


async def test_a_requester_that_leaves_does_not_cancel_the_shared_evaluation(
    policy_dir: Path,
) -> None:
    decider, counting = counting_decider(policy_dir)
    leaving = asyncio.ensure_future(decider.decide(context()))
    staying = asyncio.ensure_future(decider.decide(context()))
    await asyncio.sleep(0)
    leaving.cancel()
    decision = await staying
    assert leaving.cancelled() and decision.allowed
    assert counting.evaluations == 1
    assert await decider.decide(context()) is decision  # cached by the shared evaluation


async def test_an_embedded_evaluation_leaves_the_event_loop_free(policy_dir: Path) -> None:
    # Tasks run in the order they were created: a blocking evaluation would finish
    # before the second task ever ran.
    decider = decider_for(policy_dir, cache_size=0)
    evaluation = asyncio.ensure_future(decider.decide(context()))
    seen_running = asyncio.ensure_future(asyncio.sleep(0, result=None))
    await seen_running
    assert not evaluation.done()
    assert (await evaluation).allowed


async def test_an_embedded_evaluation_past_the_timeout_fails_closed(policy_dir: Path) -> None:
    catalog = provider_catalog(load_config(DEMO_CONFIG))
    decider = Decider(EmbeddedEngine(policy_dir, "router/decision"), catalog, 0.01, 0)
    with pytest.raises(PolicyUnavailable) as caught:
        await decider.decide(context())
    assert caught.value.cause == "timeout"

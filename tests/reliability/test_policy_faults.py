"""Policy faults through the real sidecar: it fails closed, sends nothing, and audits it.

The engine-level versions live in tests/decision/test_fail_closed.py; here the whole
request path runs, so a 503 `policy_unavailable` must come with no provider called,
one `failed_closed` audit record, and no raw PII anywhere.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiohttp import web
from structlog.testing import capture_logs

from policy_engine.decision import PolicySource
from tests.decision._support import ENTRYPOINT, FakeOpa, running_opa
from tests.fakes import FakeProvider
from tests.reliability._support import Answer, Invariants, ask
from tests.sidecar import POLICY_DIR, ProviderSpec, RunningSidecar, build_settings, start_sidecar

EU = {"residency": "eu"}
CONCURRENCY = 50
ROUNDS_AFTER_RELOAD = 3
MAX_ROUNDS = 200


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    with capture_logs() as captured:
        yield captured


@pytest.fixture
async def alpha() -> AsyncIterator[FakeProvider]:
    async with FakeProvider("openai", name="alpha") as fake:
        yield fake


@pytest.fixture
async def bravo() -> AsyncIterator[FakeProvider]:
    async with FakeProvider("anthropic", name="bravo") as fake:
        yield fake


@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, target, ignore=shutil.ignore_patterns("*_test.rego"))
    return target


@pytest.fixture
async def fake_opa() -> AsyncIterator[FakeOpa]:
    fake = FakeOpa()
    app = web.Application()
    app.router.add_post(f"/v1/data/{ENTRYPOINT}", fake.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield fake
    fake.release.set()
    await runner.cleanup()


async def serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeProvider, **policy: Any
) -> RunningSidecar:
    settings = build_settings(
        tmp_path,
        [ProviderSpec("alpha", fake, attributes=EU)],
        policy={"timeout_ms": 300, **policy},
    )
    return await start_sidecar(settings, monkeypatch)


async def ask_once(running: RunningSidecar, stream: bool = False) -> Answer:
    async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
        return await ask(http, stream)


def assert_failed_closed(answer: Answer, running: RunningSidecar, cause: str) -> None:
    assert answer.status == 503
    assert answer.error is not None and answer.error["code"] == "policy_unavailable"
    assert f"({cause})" in answer.error["message"]
    record = running.audit_events()[-1]
    assert (record["outcome"], record["attempts"], record["provider"]) == (
        "failed_closed",
        [],
        None,
    )


STREAM = pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])


@STREAM
async def test_a_killed_opa_fails_closed_and_sends_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    alpha: FakeProvider,
    logs: list[dict[str, Any]],
    stream: bool,
) -> None:
    with running_opa() as opa:
        running = await serve(tmp_path, monkeypatch, alpha, opa_url=opa.url)
        try:
            assert (await ask_once(running, stream)).status == 200
            opa.process.kill()
            opa.process.wait(timeout=10)

            answer = await ask_once(running, stream)

            assert_failed_closed(answer, running, "unreachable")
            assert len(alpha.received) == 1, "only the request decided before the kill"
            async with httpx.AsyncClient(base_url=running.url) as http:
                ready = await http.get("/readyz")
            assert (ready.status_code, ready.json()["policy"]) == (503, False)
            Invariants(running, [alpha], logs=logs).check(requests_sent=2)
        finally:
            await running.stop()


@STREAM
async def test_a_slow_opa_fails_closed_at_the_policy_timeout(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    alpha: FakeProvider,
    fake_opa: FakeOpa,
    logs: list[dict[str, Any]],
    stream: bool,
) -> None:
    fake_opa.stall = True
    running = await serve(tmp_path, monkeypatch, alpha, opa_url=fake_opa.url)
    try:
        answer = await ask_once(running, stream)

        assert_failed_closed(answer, running, "timeout")
        assert alpha.received == []
        Invariants(running, [alpha], logs=logs).check(requests_sent=1)
    finally:
        fake_opa.release.set()
        await running.stop()


@pytest.mark.parametrize(
    ("status", "body", "cause"),
    [
        (200, b"<html>proxy error</html>", "malformed"),
        (200, b'{"result": {"allowed": "everyone"}}', "malformed"),
        (200, b"{}", "undefined"),
        (500, b'{"code": "internal_error"}', "error"),
    ],
    ids=["html", "wrong-shape", "undefined", "500"],
)
async def test_garbage_from_opa_fails_closed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    alpha: FakeProvider,
    fake_opa: FakeOpa,
    logs: list[dict[str, Any]],
    status: int,
    body: bytes,
    cause: str,
) -> None:
    fake_opa.answer(status, body)
    running = await serve(tmp_path, monkeypatch, alpha, opa_url=fake_opa.url)
    try:
        answer = await ask_once(running)

        assert_failed_closed(answer, running, cause)
        assert alpha.received == []
        Invariants(running, [alpha], logs=logs).check(requests_sent=1)
    finally:
        await running.stop()


async def test_an_embedded_policy_with_a_runtime_conflict_fails_closed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    alpha: FakeProvider,
    policy_copy: Path,
    logs: list[dict[str, Any]],
) -> None:
    # Compiles, but two complete-rule values for one tenant conflict at evaluation.
    (policy_copy / "router" / "conflict.rego").write_text(
        "package router\n\n"
        "tier := 1 if input.tenant\n\n"
        "tier := 2 if input.tenant\n\n"
        'denial contains ["nobody", "tier"] if tier == 3\n'
    )
    running = await serve(tmp_path, monkeypatch, alpha, policy_dir=str(policy_copy))
    try:
        answer = await ask_once(running)

        assert_failed_closed(answer, running, "error")
        assert alpha.received == []
        Invariants(running, [alpha], logs=logs).check(requests_sent=1)
    finally:
        await running.stop()


async def test_a_policy_reload_under_load_never_routes_outside_the_recorded_revision(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    alpha: FakeProvider,
    bravo: FakeProvider,
    policy_copy: Path,
    logs: list[dict[str, Any]],
) -> None:
    old = PolicySource.read(policy_copy).revision
    settings = build_settings(
        tmp_path,
        [
            ProviderSpec("alpha", alpha, attributes=EU, priority=1),
            ProviderSpec("bravo", bravo, attributes=EU, priority=2),
        ],
        policy={"policy_dir": str(policy_copy)},
    )
    running = await start_sidecar(settings, monkeypatch)
    engine = running.sidecar.engine
    tenants_file = policy_copy / "tenants" / "data.json"
    tenants = orjson.loads(tenants_file.read_bytes())
    tenants["sandbox"]["deny_providers"] = ["alpha"]
    try:
        async with httpx.AsyncClient(base_url=running.url, timeout=30) as http:

            async def wave() -> list[Answer]:
                return await asyncio.gather(*(ask(http, n % 2 == 0) for n in range(CONCURRENCY)))

            answers = await wave()
            tenants_file.write_bytes(orjson.dumps(tenants, option=orjson.OPT_INDENT_2))
            rounds = 0
            while engine.revision == old:
                assert rounds < MAX_ROUNDS, "the edited policy was never loaded"
                answers += await wave()
                rounds += 1
            for _ in range(ROUNDS_AFTER_RELOAD):
                answers += await wave()
        new = engine.revision
        allowed_by = {old: {"alpha", "bravo"}, new: {"bravo"}}

        assert all(a.status == 200 for a in answers)
        records = running.audit_events()
        assert {r["policy"]["revision"] for r in records} == {old, new}
        for record in records:
            revision = record["policy"]["revision"]
            assert set(record["policy"]["allowed"]) == allowed_by[revision]
            assert {a["provider"] for a in record["attempts"]} <= allowed_by[revision]
        alpha_records = [r for r in records if r["provider"] == "alpha"]
        assert len(alpha.received) == len(alpha_records)
        assert all(r["policy"]["revision"] == old for r in alpha_records)
        Invariants(running, [alpha, bravo], logs=logs).check(requests_sent=len(answers))
    finally:
        await running.stop()

"""Quality floors and capabilities through the served sidecar: what a task class and a
request's needs do to where it may go.

`strong` (gpt-4o, 88.7) is tried first and is down; `weak` (a self-hosted llama, 69,
8k context, no tools, no images) is the only provider up. Tenant sandbox has no task
class of its own, so the X-Task-Class header sets the floor (analysis 85, autocomplete
60 in policies/task_classes/data.json).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from tests.fakes import FakeProvider, Unavailable
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

pytestmark = pytest.mark.asyncio(loop_scope="module")

ANALYSIS_FLOOR_REASON = (
    "quality: task class analysis needs a model scoring at least 85; llama-3-8b on weak scores 69"
)


def chat(text: str = "Summarise our Q3 numbers", **extra: object) -> dict[str, object]:
    return {"model": "default", "messages": [{"role": "user", "content": text}], **extra}


def headers(task_class: str | None) -> dict[str, str]:
    sent = {"X-Tenant-ID": "sandbox"}
    if task_class is not None:
        sent["X-Task-Class"] = task_class
    return sent


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fakes() -> AsyncIterator[tuple[FakeProvider, FakeProvider]]:
    async with (
        FakeProvider("openai", name="strong") as strong,
        FakeProvider("openai", name="weak") as weak,
    ):
        strong.always(Unavailable())
        yield strong, weak


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sidecar(
    tmp_path_factory: pytest.TempPathFactory, fakes: tuple[FakeProvider, FakeProvider]
) -> AsyncIterator[RunningSidecar]:
    strong, weak = fakes
    settings = build_settings(
        tmp_path_factory.mktemp("floors"),
        [
            ProviderSpec(
                "strong",
                strong,
                models={"default": "gpt-4o"},
                model_attributes={"gpt-4o": {"quality": 88.7, "context_window": 128000}},
                priority=1,
            ),
            ProviderSpec(
                "weak",
                weak,
                models={"default": "llama-3-8b"},
                model_attributes={
                    "llama-3-8b": {
                        "quality": 69,
                        "context_window": 8192,
                        "tools": False,
                        "vision": False,
                    }
                },
                attributes={"self_hosted": True},
                priority=2,
            ),
        ],
        # The first requests open strong's circuit: later ones find weak the only one up.
        routing={"circuit_failure_threshold": 2, "circuit_open_s": 600, "attempts_per_provider": 1},
    )
    with pytest.MonkeyPatch.context() as monkeypatch:
        running = await start_sidecar(settings, monkeypatch)
        try:
            yield running
        finally:
            await running.stop()


@pytest.fixture(autouse=True)
def forget_requests(fakes: tuple[FakeProvider, FakeProvider]) -> None:
    for fake in fakes:
        fake.received.clear()


async def test_analysis_is_refused_with_a_reason_naming_the_floor(
    http: httpx.AsyncClient, fakes: tuple[FakeProvider, FakeProvider]
) -> None:
    response = await http.post("/v1/chat/completions", json=chat(), headers=headers("analysis"))
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "providers_unavailable"
    assert ANALYSIS_FLOOR_REASON in error["message"]
    assert fakes[1].received == []  # the weak model never saw it


async def test_autocomplete_falls_back_to_the_weaker_model(
    http: httpx.AsyncClient, fakes: tuple[FakeProvider, FakeProvider]
) -> None:
    response = await http.post("/v1/chat/completions", json=chat(), headers=headers("autocomplete"))
    assert response.status_code == 200
    assert response.headers["x-routed-model"] == "llama-3-8b"
    assert response.headers["x-fallback"] in {"server_error", "circuit_open"}
    assert len(fakes[1].received) == 1


async def test_analysis_with_the_strong_circuit_open_names_the_floor_too(
    http: httpx.AsyncClient, sidecar: RunningSidecar, fakes: tuple[FakeProvider, FakeProvider]
) -> None:
    for _ in range(2):  # make sure strong's circuit is open whatever ran before
        await http.post("/v1/chat/completions", json=chat(), headers=headers("autocomplete"))
    fakes[0].received.clear()
    response = await http.post("/v1/chat/completions", json=chat(), headers=headers("analysis"))
    assert response.status_code == 503
    message = response.json()["error"]["message"]
    assert "strong (circuit open)" in message
    assert ANALYSIS_FLOOR_REASON in message
    assert fakes[0].received == []
    record = next(
        e for e in sidecar.audit_events() if e["request_id"] == response.headers["x-request-id"]
    )
    assert record["policy"]["constraints"]["task_class"] == "analysis"
    assert record["policy"]["constraints"]["quality_floor"] == 85
    assert record["context"]["task_classes"] == ["analysis"]


async def test_without_a_task_class_any_model_may_answer(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/chat/completions", json=chat(), headers=headers(None))
    assert response.headers["x-routed-model"] == "llama-3-8b"


async def test_an_unknown_task_class_is_denied_by_the_policy(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/chat/completions", json=chat(), headers=headers("poetry"))
    assert response.status_code == 403
    assert "task class poetry is not known to the policy" in response.json()["error"]["message"]


async def test_a_malformed_task_class_header_is_a_bad_request(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/v1/chat/completions", json=chat(), headers=headers("deep analysis")
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "X-Task-Class"


async def test_a_request_with_tools_never_reaches_a_model_without_tool_use(
    http: httpx.AsyncClient, fakes: tuple[FakeProvider, FakeProvider]
) -> None:
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    response = await http.post(
        "/v1/chat/completions", json=chat(tools=[tool]), headers=headers("autocomplete")
    )
    assert response.status_code == 503
    assert "does not support tool use" in response.json()["error"]["message"]
    assert fakes[1].received == []


async def test_an_input_beyond_the_context_window_never_reaches_that_model(
    http: httpx.AsyncClient, fakes: tuple[FakeProvider, FakeProvider]
) -> None:
    long_text = "word " * 8000  # 40,000 characters: about 10,000 tokens
    response = await http.post(
        "/v1/chat/completions", json=chat(long_text), headers=headers("autocomplete")
    )
    assert response.status_code == 503
    assert "has a context window of 8192" in response.json()["error"]["message"]
    assert fakes[1].received == []


async def test_a_request_with_an_image_never_reaches_a_model_without_vision(
    http: httpx.AsyncClient, fakes: tuple[FakeProvider, FakeProvider]
) -> None:
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]
    body = {"model": "default", "messages": [{"role": "user", "content": content}]}
    response = await http.post("/v1/chat/completions", json=body, headers=headers(None))
    assert response.status_code == 503
    assert "does not accept images" in response.json()["error"]["message"]
    assert fakes[1].received == []

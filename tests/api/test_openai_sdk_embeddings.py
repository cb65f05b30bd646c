"""The official openai SDK's `client.embeddings.create`, pointed at the sidecar by
base_url alone: list input, base64 (the SDK's default), dimensions, failover within the
same model, and a denial with its reasons."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest

from tests.fakes import FakeProvider, ServerError, fake_vector
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

SMALL = "text-embedding-3-small"
HEADERS = {"X-Tenant-ID": "sandbox", "X-Data-Residency": "eu"}
TEXTS = ["The first document", "The second document"]


@pytest.fixture
async def fakes() -> AsyncIterator[dict[str, FakeProvider]]:
    async with (
        FakeProvider("openai", name="primary") as primary,
        FakeProvider("azure_openai", name="backup") as backup,
        FakeProvider("gemini", name="other-model") as other,
        FakeProvider("openai", name="denied") as denied,
    ):
        yield {"primary": primary, "backup": backup, "other-model": other, "denied": denied}


@pytest.fixture
async def sidecar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fakes: dict[str, FakeProvider]
) -> AsyncIterator[RunningSidecar]:
    eu = {"residency": "eu"}
    settings = build_settings(
        tmp_path,
        [
            ProviderSpec(
                "primary",
                fakes["primary"],
                attributes={**eu, "cloud": "openai"},
                models={"default": "gpt-4o-mini", "embed": SMALL},
                priority=1,
            ),
            # The same model on another cloud: an Azure deployment named for itself.
            ProviderSpec(
                "backup",
                fakes["backup"],
                attributes={**eu, "cloud": "azure"},
                models={"default": "gpt-4o-mini", "embed": "small-eu"},
                model_attributes={"small-eu": {"model": SMALL}},
                priority=2,
            ),
            # Another model, allowed and tried first by priority for its own alias.
            ProviderSpec(
                "other-model",
                fakes["other-model"],
                attributes={**eu, "cloud": "gcp"},
                models={"default": "gemini-2.0-flash", "embed-gemini": "gemini-embedding-001"},
                priority=0,
            ),
            # The same model in the US: denied for an EU request.
            ProviderSpec(
                "denied",
                fakes["denied"],
                attributes={"residency": "us", "cloud": "openai"},
                models={"default": "gpt-4o-mini", "embed": SMALL},
                priority=0,
            ),
        ],
        embeddings={"embed": {"model": SMALL}, "embed-gemini": {}},
    )
    running = await start_sidecar(settings, monkeypatch)
    yield running
    await running.stop()


@pytest.fixture
def client(sidecar: RunningSidecar) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=f"{sidecar.url}/v1", api_key="unused", default_headers=HEADERS, max_retries=0
    )


def close(vector: list[float], expected: list[float]) -> bool:
    """float32 (base64) keeps the fake's four decimals."""
    return len(vector) == len(expected) and all(
        abs(a - b) < 1e-6 for a, b in zip(vector, expected, strict=True)
    )


async def test_a_list_input_as_floats(
    client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider]
) -> None:
    raw = await client.embeddings.with_raw_response.create(
        model="embed", input=TEXTS, encoding_format="float"
    )
    answer = raw.parse()
    assert [d.embedding for d in answer.data] == [fake_vector(SMALL, t) for t in TEXTS]
    assert [d.index for d in answer.data] == [0, 1]
    assert answer.model == SMALL
    assert answer.usage.prompt_tokens == answer.usage.total_tokens == 6
    assert raw.headers["x-routed-provider"] == "primary"
    assert fakes["primary"].received[0].json["input"] == TEXTS


async def test_the_sdks_default_base64_is_decoded_by_the_sdk(
    client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider]
) -> None:
    answer = await client.embeddings.create(model="embed", input=TEXTS)
    assert fakes["primary"].received[0].json["encoding_format"] == "float"
    for item, text in zip(answer.data, TEXTS, strict=True):
        assert close(item.embedding, fake_vector(SMALL, text))


async def test_dimensions_reach_the_provider(
    client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider]
) -> None:
    answer = await client.embeddings.create(model="embed", input="one", dimensions=4)
    assert len(answer.data[0].embedding) == 4
    assert fakes["primary"].received[0].json["dimensions"] == 4


async def test_failover_stays_with_the_same_model(
    client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider]
) -> None:
    fakes["primary"].always(ServerError())
    raw = await client.embeddings.with_raw_response.create(model="embed", input=TEXTS)
    answer = raw.parse()
    assert raw.headers["x-routed-provider"] == "backup"
    assert raw.headers["x-routed-model"] == SMALL
    assert raw.headers["x-fallback"] == "server_error"
    assert answer.model == SMALL
    assert close(answer.data[0].embedding, fake_vector("small-eu", TEXTS[0]))
    # Another model's provider and a denied provider received nothing at all.
    assert fakes["other-model"].received == []
    assert fakes["denied"].received == []


async def test_a_denial_comes_with_each_providers_reasons(
    client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider]
) -> None:
    with pytest.raises(openai.PermissionDeniedError) as caught:
        await client.embeddings.create(
            model="embed", input=TEXTS, extra_headers={"X-Tenant-ID": "medibridge-us"}
        )
    message = caught.value.message
    assert "primary:" in message and "backup:" in message and "denied:" in message
    assert "privacy: phi may be embedded only by a self-hosted provider" in message
    assert "residency" in message
    assert all(not fake.received for fake in fakes.values())


async def test_the_other_model_answers_under_its_own_alias(
    client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider]
) -> None:
    raw = await client.embeddings.with_raw_response.create(
        model="embed-gemini", input=TEXTS, encoding_format="float"
    )
    assert raw.headers["x-routed-provider"] == "other-model"
    assert raw.parse().data[1].embedding == fake_vector("gemini-embedding-001", TEXTS[1])
    assert fakes["primary"].received == []


async def test_a_token_array_is_refused_with_the_reason(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.embeddings.create(model="embed", input=[[1212, 318, 257]])
    assert caught.value.param == "input"  # type: ignore[attr-defined]
    assert "token arrays" in caught.value.message

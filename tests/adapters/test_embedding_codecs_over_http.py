"""Each embeddings provider codec against its fake provider, over real loopback HTTP.

The fakes follow the providers' API references and share no code with the codecs:
OpenAI-compatible `/v1/embeddings`, Azure's deployment path, Gemini's `embedContent`
and `batchEmbedContents`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from adapters import (
    EmbeddingProviderCodec,
    EmbeddingRequest,
    EmbeddingResponse,
    ProviderError,
    ProviderErrorKind,
    ProviderTarget,
    embedding_codec,
)
from tests.fakes import (
    BadVectors,
    FakeProvider,
    InvalidRequest,
    MalformedJSON,
    RateLimited,
    Unauthorized,
    WrongContentType,
    fake_tokens,
    fake_vector,
)
from tests.fakes._embeddings import Tamper

PROTOCOLS = ["openai", "azure_openai", "gemini"]
MODELS = {
    "openai": "text-embedding-3-small",
    "azure_openai": "embed-eu",
    "gemini": "gemini-embedding-001",
}
TEXTS = ["The quick brown fox", "jumps over the lazy dog", "again"]


@pytest.fixture(params=PROTOCOLS)
async def fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeProvider]:
    async with FakeProvider(request.param) as provider:
        yield provider


def target(fake: FakeProvider, api_key: str = "test-key") -> ProviderTarget:
    return ProviderTarget(
        base_url=fake.base_url,
        model=MODELS[fake.protocol],
        api_key=api_key,
        options={"api_version": "2024-10-21"},
    )


async def embed(
    fake: FakeProvider, request: EmbeddingRequest, api_key: str = "test-key"
) -> EmbeddingResponse:
    """What the router does: one HTTP exchange, the codec reads the answer."""
    codec: EmbeddingProviderCodec = embedding_codec(fake.protocol)
    http = codec.encode_embeddings(request, target(fake, api_key))
    async with (
        aiohttp.ClientSession() as session,
        session.request(http.method, http.url, headers=dict(http.headers), data=http.body) as resp,
    ):
        body = await resp.read()
        if resp.status >= 300:
            raise codec.decode_error(resp.status, resp.headers, body)
        return codec.decode_embeddings(body, request)


async def test_a_batch_comes_back_one_vector_per_input_in_order(fake: FakeProvider) -> None:
    response = await embed(fake, EmbeddingRequest("embed", list(TEXTS)))
    model = MODELS[fake.protocol]
    assert response.vectors == [fake_vector(model, text) for text in TEXTS]


async def test_one_input_comes_back_as_one_vector(fake: FakeProvider) -> None:
    response = await embed(fake, EmbeddingRequest("embed", ["only me"]))
    assert response.vectors == [fake_vector(MODELS[fake.protocol], "only me")]


async def test_dimensions_reach_the_provider_and_shape_the_vectors(fake: FakeProvider) -> None:
    response = await embed(fake, EmbeddingRequest("embed", list(TEXTS), dimensions=3))
    assert {len(v) for v in response.vectors} == {3}


@pytest.mark.parametrize("protocol", ["openai", "azure_openai"])
async def test_openai_shapes_report_the_token_usage(protocol: str) -> None:
    async with FakeProvider(protocol) as fake:  # type: ignore[arg-type]
        response = await embed(fake, EmbeddingRequest("embed", list(TEXTS)))
    assert response.input_tokens == fake_tokens(TEXTS)


async def test_gemini_reports_no_usage() -> None:
    async with FakeProvider("gemini") as fake:
        response = await embed(fake, EmbeddingRequest("embed", list(TEXTS)))
    assert response.input_tokens is None


async def test_openai_sends_the_model_floats_dimensions_and_user() -> None:
    async with FakeProvider("openai") as fake:
        await embed(fake, EmbeddingRequest("embed", ["a"], dimensions=4, user="u-1"))
        sent = fake.received[0]
    assert sent.path == "/v1/embeddings"
    assert sent.headers["Authorization"] == "Bearer test-key"
    assert sent.json == {
        "model": "text-embedding-3-small",
        "input": ["a"],
        "encoding_format": "float",
        "dimensions": 4,
        "user": "u-1",
    }


async def test_a_base64_request_still_asks_the_provider_for_floats() -> None:
    async with FakeProvider("openai") as fake:
        await embed(fake, EmbeddingRequest("embed", ["a"], encoding_format="base64"))
        assert fake.received[0].json["encoding_format"] == "float"


async def test_azure_addresses_the_deployment_and_sends_no_model() -> None:
    async with FakeProvider("azure_openai") as fake:
        await embed(fake, EmbeddingRequest("embed", ["a"]))
        sent = fake.received[0]
    assert sent.path == "/openai/deployments/embed-eu/embeddings"
    assert sent.query == {"api-version": "2024-10-21"}
    assert sent.headers["api-key"] == "test-key"
    assert "model" not in sent.json


async def test_gemini_embeds_one_input_with_embed_content() -> None:
    async with FakeProvider("gemini") as fake:
        await embed(fake, EmbeddingRequest("embed", ["a"], dimensions=4, user="u-1"))
        sent = fake.received[0]
    assert sent.path == "/v1beta/models/gemini-embedding-001:embedContent"
    assert sent.headers["x-goog-api-key"] == "test-key"
    assert "key" not in sent.query
    # Gemini has no end-user id: `user` is not sent.
    assert sent.json == {"content": {"parts": [{"text": "a"}]}, "outputDimensionality": 4}


async def test_gemini_embeds_a_batch_naming_the_model_in_each_request() -> None:
    async with FakeProvider("gemini") as fake:
        await embed(fake, EmbeddingRequest("embed", ["a", "b"]))
        sent = fake.received[0]
    assert sent.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert sent.json == {
        "requests": [
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}},
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]}},
        ]
    }


async def test_gemini_takes_at_most_100_inputs_a_call() -> None:
    assert embedding_codec("gemini").max_inputs == 100
    async with FakeProvider("gemini") as fake:
        with pytest.raises(ProviderError) as caught:
            await embed(fake, EmbeddingRequest("embed", ["x"] * 101))
    assert caught.value.kind is ProviderErrorKind.INVALID_REQUEST


async def test_a_rate_limit_is_a_retryable_error_with_its_wait(fake: FakeProvider) -> None:
    fake.script_embeddings(RateLimited(retry_after=2))
    with pytest.raises(ProviderError) as caught:
        await embed(fake, EmbeddingRequest("embed", ["a"]))
    assert caught.value.kind is ProviderErrorKind.RATE_LIMITED
    assert caught.value.retry_after == 2


async def test_a_wrong_key_is_an_auth_error(fake: FakeProvider) -> None:
    with pytest.raises(ProviderError) as caught:
        await embed(fake, EmbeddingRequest("embed", ["a"]), api_key="wrong")
    assert caught.value.kind is ProviderErrorKind.AUTH


async def test_a_provider_400_is_the_requests_fault(fake: FakeProvider) -> None:
    fake.script_embeddings(InvalidRequest())
    with pytest.raises(ProviderError) as caught:
        await embed(fake, EmbeddingRequest("embed", ["a"]))
    assert caught.value.kind is ProviderErrorKind.INVALID_REQUEST


async def test_a_cut_answer_is_malformed(fake: FakeProvider) -> None:
    fake.script_embeddings(MalformedJSON())
    with pytest.raises(ProviderError) as caught:
        await embed(fake, EmbeddingRequest("embed", ["a", "b"]))
    assert caught.value.kind is ProviderErrorKind.MALFORMED_RESPONSE


async def test_an_answer_that_is_not_json_is_malformed(fake: FakeProvider) -> None:
    fake.script_embeddings(WrongContentType())
    with pytest.raises(ProviderError) as caught:
        await embed(fake, EmbeddingRequest("embed", ["a", "b"]))
    assert caught.value.kind is ProviderErrorKind.MALFORMED_RESPONSE


TAMPERS: list[Tamper] = ["nan", "short", "missing", "extra", "string", "boolean", "huge", "no_data"]


@pytest.mark.parametrize("tamper", TAMPERS)
async def test_a_hostile_vector_answer_is_malformed(fake: FakeProvider, tamper: Tamper) -> None:
    fake.script_embeddings(BadVectors(tamper))
    with pytest.raises(ProviderError) as caught:
        await embed(fake, EmbeddingRequest("embed", ["a", "b"]))
    assert caught.value.kind is ProviderErrorKind.MALFORMED_RESPONSE


@pytest.mark.parametrize("tamper", ["index", "usage"])
async def test_a_duplicated_index_or_negative_usage_is_malformed(tamper: Tamper) -> None:
    async with FakeProvider("openai") as fake:
        fake.script_embeddings(BadVectors(tamper))
        with pytest.raises(ProviderError) as caught:
            await embed(fake, EmbeddingRequest("embed", ["a", "b"]))
    assert caught.value.kind is ProviderErrorKind.MALFORMED_RESPONSE


async def test_vectors_of_another_length_than_asked_are_malformed() -> None:
    async with FakeProvider("openai") as fake:
        fake.dimensions = 5
        request = EmbeddingRequest("embed", ["a"])
        http = embedding_codec("openai").encode_embeddings(request, target(fake))
        async with (
            aiohttp.ClientSession() as session,
            session.post(http.url, headers=dict(http.headers), data=http.body) as resp,
        ):
            body = await resp.read()
    asked = EmbeddingRequest("embed", ["a"], dimensions=8)
    with pytest.raises(ProviderError) as caught:
        embedding_codec("openai").decode_embeddings(body, asked)
    assert caught.value.kind is ProviderErrorKind.MALFORMED_RESPONSE


async def test_a_shuffled_answer_is_put_back_in_input_order() -> None:
    body = (
        b'{"object": "list", "model": "m", "usage": {"prompt_tokens": 2, "total_tokens": 2},'
        b' "data": [{"object": "embedding", "index": 1, "embedding": [2.0]},'
        b' {"object": "embedding", "index": 0, "embedding": [1.0]}]}'
    )
    response = embedding_codec("openai").decode_embeddings(body, EmbeddingRequest("m", ["a", "b"]))
    assert response.vectors == [[1.0], [2.0]]


async def test_unauthorized_behaviour_is_an_auth_error(fake: FakeProvider) -> None:
    fake.script_embeddings(Unauthorized())
    with pytest.raises(ProviderError) as caught:
        await embed(fake, EmbeddingRequest("embed", ["a"]))
    assert caught.value.kind is ProviderErrorKind.AUTH

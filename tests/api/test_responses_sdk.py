"""The official openai SDK's Responses API (`client.responses`), pointed at the sidecar by
base_url alone: answered through the shared chat model by any allowed provider, with
the chat route's failover, redaction and audit.

Three providers: `us-first` (OpenAI wire format, US residency, tried first when
allowed), `eu-a` (OpenAI, EU) and `eu-b` (Anthropic, EU). A request sent with
`X-Data-Residency: eu` may only go to the EU two: `us-first` must receive nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.fakes import Call, FakeProvider, Ok, ServerError, StreamCut
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

HEADERS = {"X-Tenant-ID": "sandbox"}
EU = {"X-Data-Residency": "eu"}
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}
PLAN = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city", "days"],
    "additionalProperties": False,
}


@pytest.fixture
async def fakes() -> AsyncIterator[dict[str, FakeProvider]]:
    async with (
        FakeProvider("openai", name="us-first") as us,
        FakeProvider("openai", name="eu-a") as eu_a,
        FakeProvider("anthropic", name="eu-b", reply="hello from eu-b") as eu_b,
    ):
        yield {"us-first": us, "eu-a": eu_a, "eu-b": eu_b}


@pytest.fixture
async def sidecar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fakes: dict[str, FakeProvider]
) -> AsyncIterator[RunningSidecar]:
    settings = build_settings(
        tmp_path,
        [
            ProviderSpec("us-first", fakes["us-first"], {"residency": "us"}, priority=1),
            ProviderSpec("eu-a", fakes["eu-a"], {"residency": "eu"}, priority=2),
            ProviderSpec(
                "eu-b",
                fakes["eu-b"],
                {"residency": "eu"},
                models={"default": "claude-test", "claude-only": "claude-test"},
                priority=3,
            ),
        ],
    )
    running = await start_sidecar(settings, monkeypatch)
    yield running
    await running.stop()


@pytest.fixture
async def client(sidecar: RunningSidecar) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=f"{sidecar.url}/v1", api_key="unused", default_headers=HEADERS, max_retries=0
    ) as sdk:
        yield sdk


def sent(fake: FakeProvider) -> dict[str, Any]:
    body: dict[str, Any] = fake.received[-1].json
    return body


async def test_a_plain_response_is_answered_and_audited_as_the_responses_protocol(
    client: openai.AsyncOpenAI, sidecar: RunningSidecar
) -> None:
    raw = await client.responses.with_raw_response.create(model="default", input="Hi")
    response = raw.parse()
    assert response.output_text == "Hi"
    assert response.status == "completed"
    assert response.id.startswith("resp_")
    assert response.usage is not None and response.usage.total_tokens == 18
    assert raw.headers["x-routed-provider"] == "us-first"
    [record] = sidecar.audit_events()
    assert record["protocol"] == "responses"
    assert record["outcome"] == "answered"


async def test_instructions_and_the_input_items_reach_the_provider_as_a_conversation(
    client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider]
) -> None:
    response = await client.responses.create(
        model="default",
        instructions="Be brief.",
        input=[
            {"role": "developer", "content": "Answer in English."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": [{"type": "input_text", "text": "Again"}]},
        ],
        max_output_tokens=64,
        temperature=0.2,
        metadata={"ticket": "T-1"},
    )
    assert response.output_text == "Again"
    assert response.instructions == "Be brief."
    assert response.metadata == {"ticket": "T-1"}
    body = sent(fakes["us-first"])
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("system", "Be brief."),
        ("system", "Answer in English."),
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", "Again"),
    ]
    assert body["temperature"] == 0.2
    assert "metadata" not in body and "store" not in body


async def test_a_function_call_round_trip_with_the_sidecars_own_call_ids(
    client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider]
) -> None:
    fakes["us-first"].script(
        Ok(text="", tool_calls=(Call("get_weather", {"city": "Oslo"}, "call_up_1"),))
    )
    first = await client.responses.create(
        model="default", input="Weather in Oslo?", tools=[WEATHER_TOOL]
    )
    [call] = first.output
    assert call.type == "function_call"
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Oslo"}
    assert call.call_id.startswith("call_") and call.call_id != "call_up_1"
    second = await client.responses.create(
        model="default",
        tools=[WEATHER_TOOL],
        input=[
            {"role": "user", "content": "Weather in Oslo?"},
            *[item.model_dump(exclude_none=True) for item in first.output],
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
        ],
    )
    assert second.status == "completed"
    messages = sent(fakes["us-first"])["messages"]
    assert messages[1]["tool_calls"][0]["id"] == call.call_id
    assert messages[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert messages[2] == {"role": "tool", "tool_call_id": call.call_id, "content": "sunny"}
    assert sent(fakes["us-first"])["tools"][0]["function"]["strict"] is True


async def test_text_format_json_schema_becomes_the_providers_structured_output(
    client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider]
) -> None:
    response = await client.responses.create(
        model="default",
        input="Plan a trip",
        text={"format": {"type": "json_schema", "name": "plan", "schema": PLAN, "strict": True}},
    )
    assert set(json.loads(response.output_text)) == {"city", "days"}
    assert response.text is not None and response.text.format.type == "json_schema"
    response_format = sent(fakes["us-first"])["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["schema"] == PLAN


async def test_the_stream_helper_gets_the_typed_events_and_the_final_response(
    client: openai.AsyncOpenAI,
) -> None:
    async with client.responses.stream(model="default", input="Hello there") as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_response()
    assert final.output_text == "Hello there"
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert "response.output_text.delta" in kinds
    assert kinds[-1] == "response.completed"


async def test_stream_true_streams_tool_call_arguments(
    client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider]
) -> None:
    fakes["us-first"].script(Ok(text="", tool_calls=(Call("get_weather", {"city": "Oslo"}),)))
    stream = await client.responses.create(
        model="default", input="Weather?", tools=[WEATHER_TOOL], stream=True
    )
    events = [event async for event in stream]
    arguments = "".join(
        e.delta for e in events if e.type == "response.function_call_arguments.delta"
    )
    assert json.loads(arguments) == {"city": "Oslo"}
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].type == "response.completed"
    [item] = events[-1].response.output
    assert item.type == "function_call" and item.arguments == arguments


async def test_a_failing_provider_falls_back_inside_the_allowed_set_only(
    client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider], sidecar: RunningSidecar
) -> None:
    fakes["eu-a"].script(ServerError(503))
    raw = await client.responses.with_raw_response.create(
        model="default", input="Hi", extra_headers=EU
    )
    assert raw.parse().output_text == "hello from eu-b"
    assert raw.headers["x-routed-provider"] == "eu-b"
    assert raw.headers["x-fallback"] == "server_error"
    assert fakes["us-first"].received == []
    record = sidecar.audit_events()[-1]
    assert [a["provider"] for a in record["attempts"]] == ["eu-a", "eu-b"]
    assert "us-first" in record["policy"]["denied"]


async def test_a_stream_falls_back_before_its_first_event(
    client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider]
) -> None:
    fakes["eu-a"].script(ServerError(500))
    async with client.responses.stream(model="default", input="Hi", extra_headers=EU) as stream:
        final = await stream.get_final_response()
    assert final.output_text == "hello from eu-b"
    assert fakes["us-first"].received == []


async def test_a_stream_cut_after_its_first_event_ends_with_an_error_and_a_failed_response(
    client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider], sidecar: RunningSidecar
) -> None:
    fakes["us-first"].script(StreamCut(after_events=3))
    stream = await client.responses.create(model="default", input="Hello there", stream=True)
    events = [event async for event in stream]
    assert [e.type for e in events[-2:]] == ["error", "response.failed"]
    assert events[-1].response.status == "failed"
    assert "response.completed" not in [e.type for e in events]
    assert sidecar.audit_events()[-1]["outcome"] == "stream_failed"


async def test_a_denial_is_a_403_with_the_policys_reasons(
    client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider]
) -> None:
    with pytest.raises(openai.PermissionDeniedError) as raised:
        await client.responses.create(
            model="claude-only", input="Hi", extra_headers={"X-Data-Residency": "us"}
        )
    assert raised.value.code == "policy_denied"
    assert "eu-b: residency" in raised.value.message
    assert all(fake.received == [] for fake in fakes.values())


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"previous_response_id": "resp_123"}, "previous_response_id"),
        ({"store": True}, "store"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"background": True}, "background"),
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"include": ["file_search_call.results"]}, "include[0]"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
    ],
)
async def test_state_and_built_in_tools_are_refused_naming_the_field(
    client: openai.AsyncOpenAI,
    fakes: dict[str, FakeProvider],
    fields: dict[str, Any],
    param: str,
) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        await client.responses.create(model="default", input="Hi", extra_body=fields)
    assert raised.value.param == param
    assert all(fake.received == [] for fake in fakes.values())


async def test_store_false_is_served_like_a_call_without_store(
    client: openai.AsyncOpenAI,
) -> None:
    response = await client.responses.create(model="default", input="Hi", store=False)
    assert response.output_text == "Hi"


async def test_pii_in_every_content_field_is_redacted_before_it_leaves(
    client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider]
) -> None:
    email = "jane.roe@example.org"
    tool = WEATHER_TOOL | {"description": f"Ask {email} first"}
    await client.responses.create(
        model="default",
        instructions=f"Reply to {email}",
        tools=[tool],
        text={
            "format": {
                "type": "json_schema",
                "name": "plan",
                "schema": PLAN | {"description": f"for {email}"},
            }
        },
        input=[
            {"role": "user", "content": f"Mail {email}"},
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": json.dumps({"city": email}),
            },
            {"type": "function_call_output", "call_id": "call_1", "output": f"sent to {email}"},
        ],
        user=email,
        safety_identifier=email,
    )
    body = fakes["us-first"].received[-1].body.decode()
    assert email not in body
    assert "<EMAIL_ADDRESS_1>" in body


async def test_stored_responses_cannot_be_retrieved(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        await client.responses.retrieve("resp_123")
    assert "stores no responses" in raised.value.message


async def test_the_policy_sees_the_responses_operation(
    client: openai.AsyncOpenAI, sidecar: RunningSidecar
) -> None:
    await client.responses.create(model="default", input="Hi")
    await client.with_options(max_retries=0).chat.completions.create(
        model="default", messages=[{"role": "user", "content": "Hi"}]
    )
    responses, chat = sidecar.audit_events()[-2:]
    assert responses["context"]["operation"] == "responses"
    assert chat["context"]["operation"] == "chat"


async def test_responses_are_metered_under_their_own_protocol(
    client: openai.AsyncOpenAI, sidecar: RunningSidecar
) -> None:
    await client.responses.create(model="default", input="Hi")
    async with httpx.AsyncClient(base_url=sidecar.url) as http:
        metrics = (await http.get("/metrics")).text
    assert 'policy_engine_requests_total{outcome="answered",protocol="responses"} 1.0' in metrics
    record = sidecar.audit_events()[-1]
    assert record["usage"] == {"input_tokens": 11, "output_tokens": 7}

"""Everything the sidecar sends conforms to the protocol the client speaks, on every
provider route of the demo config, streamed and not.

The demo config (deploy/demo/policy-engine.yaml) runs as shipped, with fakes for its
eleven providers, one extra alias per provider (`via-<id>`) so each route can be asked
for by name, and circuits that never open (the cases share the sidecar). For each
route, each client protocol and each of stream/not, a table of requests (plain,
tools, JSON output, log probabilities, refusals, outages, cut streams, bad input)
runs, and every body, every stream event and every status is checked:

- OpenAI: 2xx bodies validate as CreateChatCompletionResponse, stream chunks as
  CreateChatCompletionStreamResponse, errors (bodies and in-stream) as ErrorResponse,
  all from OpenAI's published schemas (specs/README.md);
- OpenAI Responses (/v1/responses): answers validate as Response, every stream event
  as the event schema its type names, numbered in order, ending in one end event;
- Anthropic: the official SDK's types in strict mode, no field outside them;
- a 2xx is always an answer and every error has a status of 400 or more.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policy_engine._config import parse_config
from policy_engine.audit import PRIVATE_KEY_NAME, write_key_pair
from tests.conformance._recorder import answer_problems
from tests.conformance._validators import (
    anthropic_error_problems,
    anthropic_event_problems,
    anthropic_message_problems,
    openai_problems,
    sse_events,
)
from tests.fakes import (
    Behaviour,
    Call,
    ContentFilter,
    ErrorUnder200,
    FakeProvider,
    InvalidRequest,
    MalformedJSON,
    Ok,
    RateLimited,
    ServerError,
    StreamCut,
    Unauthorized,
)
from tests.sidecar import RunningSidecar, start_sidecar

pytestmark = pytest.mark.asyncio(loop_scope="module")

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "deploy" / "demo" / "policy-engine.yaml"
DEMO_PROVIDERS = [p["id"] for p in yaml.safe_load(DEMO.read_text())["providers"]]
KEY = "test-key"
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city", "days"],
    "additionalProperties": False,
}
PII = "Mail jane.roe@example.org or call +44 20 7946 0958"
# A tenant without refusal fallback whose policy allows the route, where one exists
# (policies/tenants/data.json); lexvault otherwise, which some routes deny (a 403).
SSE = "text/event-stream"
NO_FALLBACK = {
    "gemini-eu": "acme-eu",
    "azure-openai-us": "medibridge-us",
    "anthropic-eu": "acme-eu",
    "bedrock-eu": "acme-eu",
    "vertex-eu": "acme-eu",
    "bedrock-us": "medibridge-us",
}


@dataclass(frozen=True)
class Case:
    name: str
    body: Callable[[str, bool], dict[str, Any]]  # (alias, stream) -> request body
    script: tuple[Behaviour, ...] = ()
    always: Behaviour | None = None
    tenant: str = "sandbox"
    stream_only: bool = False
    raw: bytes | None = None  # sent as is instead of the body's JSON
    headers: dict[str, str] = field(default_factory=dict)


def openai_chat(**fields: Any) -> Callable[[str, bool], dict[str, Any]]:
    def body(alias: str, stream: bool) -> dict[str, Any]:
        messages = fields.get("messages", [{"role": "user", "content": "Hello there"}])
        return {"model": alias, "stream": stream} | fields | {"messages": messages}

    return body


def anthropic_chat(**fields: Any) -> Callable[[str, bool], dict[str, Any]]:
    def body(alias: str, stream: bool) -> dict[str, Any]:
        messages = fields.get("messages", [{"role": "user", "content": "Hello there"}])
        base = {"model": alias, "max_tokens": 256, "stream": stream}
        return base | fields | {"messages": messages}

    return body


OPENAI_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}
OPENAI_CASES = [
    Case("plain", openai_chat()),
    Case(
        "system and history",
        openai_chat(
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": [{"type": "text", "text": "Again"}]},
            ]
        ),
    ),
    Case("pii", openai_chat(messages=[{"role": "user", "content": PII}])),
    Case(
        "tool call",
        openai_chat(tools=[OPENAI_TOOL], tool_choice="auto"),
        script=(Ok(tool_calls=(Call("get_weather", {"city": "Oslo"}),)),),
    ),
    Case(
        "tool result",
        openai_chat(
            tools=[OPENAI_TOOL],
            messages=[
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            ],
        ),
    ),
    Case(
        "json schema",
        openai_chat(
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "plan", "schema": SCHEMA, "strict": True},
            }
        ),
    ),
    Case("json mode", openai_chat(response_format={"type": "json_object"})),
    Case("logprobs", openai_chat(logprobs=True, top_logprobs=2)),
    Case("seed and penalties", openai_chat(seed=3, presence_penalty=0.1, frequency_penalty=0.1)),
    Case("usage", openai_chat(stream_options={"include_usage": True}), stream_only=True),
    Case(
        "obfuscation",
        openai_chat(stream_options={"include_obfuscation": True}),
        stream_only=True,
    ),
    Case("length", openai_chat(max_tokens=5), script=(Ok(finish="length"),)),
    Case("filtered output", openai_chat(), script=(Ok(text="partial", finish="content_filter"),)),
    Case("refused, no fallback", openai_chat(), script=(ContentFilter(),), tenant="no-fallback"),
    Case("refused, fallback", openai_chat(), script=(ContentFilter(),)),
    Case("provider 400", openai_chat(), script=(InvalidRequest(),)),
    Case("error under 200", openai_chat(), always=ErrorUnder200()),
    Case("rate limited", openai_chat(), always=RateLimited(retry_after=None)),
    Case("outage", openai_chat(), always=ServerError(503)),
    Case("bad key", openai_chat(), always=Unauthorized()),
    Case("malformed then ok", openai_chat(), script=(MalformedJSON(),)),
    Case("cut stream", openai_chat(), always=StreamCut(after_events=3), stream_only=True),
    Case("unknown field", openai_chat(frobnicate=True)),
    Case("refused field", openai_chat(store=True)),
    Case("bad field", openai_chat(temperature=5)),
    Case("policy denied", openai_chat(), tenant="paystream"),
    Case("unknown model", lambda alias, stream: openai_chat()("no-such-model", stream)),
    Case("not json", openai_chat(), raw=b'{"model": "default", "messages": ['),
]
ANTHROPIC_TOOL = {"name": "get_weather", "input_schema": WEATHER}
ANTHROPIC_CASES = [
    Case("plain", anthropic_chat()),
    Case(
        "system blocks and history",
        anthropic_chat(
            system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            messages=[
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": [{"type": "text", "text": "Hello!"}]},
                {"role": "user", "content": [{"type": "text", "text": "Again"}]},
            ],
        ),
    ),
    Case("pii", anthropic_chat(messages=[{"role": "user", "content": PII}])),
    Case(
        "tool call",
        anthropic_chat(tools=[ANTHROPIC_TOOL], tool_choice={"type": "auto"}),
        script=(Ok(tool_calls=(Call("get_weather", {"city": "Oslo"}),)),),
    ),
    Case(
        "tool result",
        anthropic_chat(
            tools=[ANTHROPIC_TOOL],
            messages=[
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "name": "get_weather",
                            "input": {"city": "Oslo"},
                        }
                    ],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}],
                },
            ],
        ),
    ),
    Case(
        "structured output",
        anthropic_chat(output_config={"format": {"type": "json_schema", "schema": SCHEMA}}),
    ),
    Case("top_k", anthropic_chat(top_k=20)),
    Case("thinking", anthropic_chat(thinking={"type": "enabled", "budget_tokens": 1024})),
    Case("length", anthropic_chat(max_tokens=5), script=(Ok(finish="length"),)),
    Case("refused, no fallback", anthropic_chat(), script=(ContentFilter(),), tenant="no-fallback"),
    Case("provider 400", anthropic_chat(), script=(InvalidRequest(),)),
    Case("error under 200", anthropic_chat(), always=ErrorUnder200()),
    Case("outage", anthropic_chat(), always=ServerError(503)),
    Case("cut stream", anthropic_chat(), always=StreamCut(after_events=3), stream_only=True),
    Case("unknown field", anthropic_chat(frobnicate=True)),
    Case("refused field", anthropic_chat(container="c_1")),
    Case("bad field", anthropic_chat(temperature=2)),
    Case("policy denied", anthropic_chat(), tenant="paystream"),
    Case("not json", anthropic_chat(), raw=b"{"),
]


def responses(**fields: Any) -> Callable[[str, bool], dict[str, Any]]:
    def body(alias: str, stream: bool) -> dict[str, Any]:
        return {"model": alias, "stream": stream, "input": "Hello there"} | fields

    return body


RESPONSES_TOOL = {"type": "function", "name": "get_weather", "parameters": WEATHER, "strict": None}
RESPONSES_CASES = [
    Case("plain", responses()),
    Case(
        "instructions and history",
        responses(
            instructions="Be brief.",
            input=[
                {"role": "developer", "content": "English only."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": [{"type": "input_text", "text": "Again"}]},
            ],
        ),
    ),
    Case("pii", responses(input=PII)),
    Case(
        "tool call",
        responses(tools=[RESPONSES_TOOL], tool_choice="auto"),
        script=(Ok(text="", tool_calls=(Call("get_weather", {"city": "Oslo"}),)),),
    ),
    Case(
        "text and a tool call",
        responses(tools=[RESPONSES_TOOL]),
        script=(Ok(text="Checking.", tool_calls=(Call("get_weather", {"city": "Oslo"}),)),),
    ),
    Case(
        "tool result",
        responses(
            tools=[RESPONSES_TOOL],
            input=[
                {"role": "user", "content": "Weather?"},
                {
                    "type": "function_call",
                    "call_id": "call_1",
                    "name": "get_weather",
                    "arguments": '{"city": "Oslo"}',
                },
                {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
            ],
        ),
    ),
    Case(
        "json schema",
        responses(
            text={
                "format": {"type": "json_schema", "name": "plan", "schema": SCHEMA, "strict": True}
            }
        ),
    ),
    Case("json mode", responses(text={"format": {"type": "json_object"}})),
    Case(
        "logprobs",
        responses(include=["message.output_text.logprobs"], top_logprobs=2),
    ),
    Case(
        "obfuscation",
        responses(stream_options={"include_obfuscation": True}),
        stream_only=True,
    ),
    Case("length", responses(max_output_tokens=16), script=(Ok(finish="length"),)),
    Case("filtered output", responses(), script=(Ok(text="partial", finish="content_filter"),)),
    Case("refused, no fallback", responses(), script=(ContentFilter(),), tenant="no-fallback"),
    Case("refused, fallback", responses(), script=(ContentFilter(),)),
    Case("provider 400", responses(), script=(InvalidRequest(),)),
    Case("error under 200", responses(), always=ErrorUnder200()),
    Case("rate limited", responses(), always=RateLimited(retry_after=None)),
    Case("outage", responses(), always=ServerError(503)),
    Case("bad key", responses(), always=Unauthorized()),
    Case("malformed then ok", responses(), script=(MalformedJSON(),)),
    Case("cut stream", responses(), always=StreamCut(after_events=3), stream_only=True),
    Case("unknown field", responses(frobnicate=True)),
    Case("stored state", responses(previous_response_id="resp_1")),
    Case("built-in tool", responses(tools=[{"type": "web_search"}])),
    Case("bad field", responses(temperature=5)),
    Case("policy denied", responses(), tenant="paystream"),
    Case("unknown model", lambda alias, stream: responses()("no-such-model", stream)),
    Case("not json", responses(), raw=b'{"model": "default", "input": ['),
]


def responses_answer_problems(response: httpx.Response, stream: bool) -> list[str]:
    content_type = response.headers.get("content-type", "")
    if 200 <= response.status_code < 300 and stream != content_type.startswith(SSE):
        return [f"a {'stream' if stream else 'JSON'} request answered {content_type}"]
    return answer_problems("responses", response.status_code, content_type, response.content)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def demo(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[RunningSidecar, dict[str, FakeProvider]]]:
    raw = yaml.safe_load(DEMO.read_text())
    fakes = {
        p["id"]: FakeProvider(
            p["adapter"],
            name=p["id"],
            api_key=KEY,
            region=p.get("options", {}).get("region"),
            project=p.get("options", {}).get("project", "test-project"),
        )
        for p in raw["providers"]
    }
    for fake in fakes.values():
        await fake.start()
    tmp = tmp_path_factory.mktemp("demo")
    write_key_pair(tmp / "keys", Ed25519PrivateKey.generate())
    raw["server"]["port"] = 0
    raw["policy"]["policy_dir"] = str(REPO / "policies")
    raw["audit"]["dir"] = str(tmp / "audit")
    raw["audit"]["signing_key_file"] = str(tmp / "keys" / PRIVATE_KEY_NAME)
    raw["routing"]["circuit_failure_threshold"] = 1_000_000
    raw["routing"]["backoff_max_s"] = 0.05
    for provider in raw["providers"]:
        fake = fakes[provider["id"]]
        provider["base_url"] = fake.base_url
        provider["models"][f"via-{provider['id']}"] = provider["models"]["default"]
        if fake.credentials_file is not None:  # Vertex: the fake issues its tokens
            provider["options"]["credentials_file"] = str(fake.credentials_file)
    with pytest.MonkeyPatch.context() as monkeypatch:
        for provider in raw["providers"]:
            if "api_key_env" in provider:
                monkeypatch.setenv(provider["api_key_env"], KEY)
        running = await start_sidecar(parse_config(raw), monkeypatch)
        yield running, fakes
        await running.stop()
    for fake in fakes.values():
        await fake.stop()
    running.verify_audit()


def json_body(response: httpx.Response) -> Any:
    if not response.headers.get("content-type", "").startswith("application/json"):
        return None
    return orjson.loads(response.content)


def openai_answer_problems(response: httpx.Response, stream: bool) -> list[str]:
    status = response.status_code
    if status >= 400:
        document = json_body(response)
        if document is None:
            return [f"{status} error is not application/json"]
        return openai_problems("ErrorResponse", document)
    if not 200 <= status < 300:
        return [f"status {status}"]
    if not stream:
        document = json_body(response)
        if document is None or "error" in document:
            return [f"{status} is not a chat completion"]
        return openai_problems("CreateChatCompletionResponse", document)
    if not response.headers.get("content-type", "").startswith("text/event-stream"):
        return [f"a {status} stream answer is {response.headers.get('content-type')}"]
    events = sse_events(response.content)
    problems: list[str] = []
    for n, event in enumerate(events):
        if event.data == "[DONE]":
            if n != len(events) - 1:
                problems.append("[DONE] is not the last event")
            continue
        chunk = orjson.loads(event.data)
        if "error" in chunk:
            problems += openai_problems("ErrorResponse", chunk)
            if n != len(events) - 1:
                problems.append("an error event is not the last event")
            continue
        problems += [
            f"chunk {n}: {p}" for p in openai_problems("CreateChatCompletionStreamResponse", chunk)
        ]
    if not events:
        problems.append("an empty stream")
    return problems


def anthropic_answer_problems(response: httpx.Response, stream: bool) -> list[str]:
    status = response.status_code
    if status >= 400:
        document = json_body(response)
        if document is None:
            return [f"{status} error is not application/json"]
        return anthropic_error_problems(document)
    if not 200 <= status < 300:
        return [f"status {status}"]
    if not stream:
        document = json_body(response)
        if document is None:
            return [f"{status} is not a message"]
        return anthropic_message_problems(document)
    if not response.headers.get("content-type", "").startswith("text/event-stream"):
        return [f"a {status} stream answer is {response.headers.get('content-type')}"]
    events = sse_events(response.content)
    problems: list[str] = []
    for n, event in enumerate(events):
        problems += [
            f"event {n} ({event.event}): {p}"
            for p in anthropic_event_problems(event.event or "", orjson.loads(event.data))
        ]
    last = events[-1].event if events else None
    if last not in ("message_stop", "error"):
        problems.append(f"the stream ends with {last!r}")
    return problems


async def run_cases(
    demo: tuple[RunningSidecar, dict[str, FakeProvider]],
    provider: str,
    stream: bool,
    path: str,
    cases: list[Case],
    check: Callable[[httpx.Response, bool], list[str]],
    headers: dict[str, str],
) -> list[str]:
    running, fakes = demo
    problems = []
    async with httpx.AsyncClient(base_url=running.url, timeout=30) as http:
        for case in cases:
            if case.stream_only and not stream:
                continue
            fake = fakes[provider]
            fake.reset()
            fake.script(*case.script)
            if case.always is not None:
                fake.always(case.always)
            content = case.raw or orjson.dumps(case.body(f"via-{provider}", stream))
            tenant = case.tenant
            if tenant == "no-fallback":
                tenant = NO_FALLBACK.get(provider, "lexvault")
            response = await http.post(
                path,
                content=content,
                headers={"X-Tenant-ID": tenant, "content-type": "application/json"} | headers,
            )
            problems += [f"{case.name}: {p}" for p in check(response, stream)]
            if "x-request-id" not in response.headers:
                problems.append(f"{case.name}: no X-Request-ID")
    return problems


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("provider", DEMO_PROVIDERS)
async def test_every_openai_answer_and_error_conforms_to_openais_published_schemas(
    demo: tuple[RunningSidecar, dict[str, FakeProvider]], provider: str, stream: bool
) -> None:
    problems = await run_cases(
        demo, provider, stream, "/v1/chat/completions", OPENAI_CASES, openai_answer_problems, {}
    )
    assert problems == []


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("provider", DEMO_PROVIDERS)
async def test_every_anthropic_answer_and_error_conforms_to_the_sdks_types(
    demo: tuple[RunningSidecar, dict[str, FakeProvider]], provider: str, stream: bool
) -> None:
    problems = await run_cases(
        demo,
        provider,
        stream,
        "/v1/messages",
        ANTHROPIC_CASES,
        anthropic_answer_problems,
        {"anthropic-version": "2023-06-01"},
    )
    assert problems == []


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("provider", DEMO_PROVIDERS)
async def test_every_responses_answer_and_error_conforms_to_openais_published_schemas(
    demo: tuple[RunningSidecar, dict[str, FakeProvider]], provider: str, stream: bool
) -> None:
    problems = await run_cases(
        demo, provider, stream, "/v1/responses", RESPONSES_CASES, responses_answer_problems, {}
    )
    assert problems == []

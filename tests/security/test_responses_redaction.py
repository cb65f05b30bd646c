"""No PII value a Responses client writes reaches a provider, wherever it wrote it.

Hypothesis writes OpenAI Responses requests over the fields that carry the client's
text: `instructions`, system and developer items, user and assistant messages (strings
or parts), `function_call` arguments, `function_call_output`s, function tools (their
description and parameter schema), the `text.format` schema, `user`,
`safety_identifier` and `prompt_cache_key`. A synthetic PII value goes into any of
them. Each request goes through a served sidecar to a recording fake of each provider
protocol (they are sent the translated chat request), whose raw bytes are searched for
every value; the fake echoes the last user turn, which must come back to the client,
plain or streamed, with every value restored.

Derandomized, so a run is the same every time; for a longer search raise MAX_EXAMPLES.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from tests.conformance._validators import sse_events
from tests.fakes import FakeProvider, Protocol
from tests.sidecar import ProviderSpec, build_settings, start_sidecar

MAX_EXAMPLES = 40
PROVIDERS: tuple[Protocol, ...] = ("openai", "azure_openai", "anthropic", "gemini")
VALUES = (
    "jane.roe@example.org",
    "+44 20 7946 0958",
    "DE89 3704 0044 0532 0130 00",
    "4111 1111 1111 1111",
    "536-22-9145",
    "203.0.113.7",
    "AKIAZ7SYNTHETIC0KEY2",
)
# Filler that cannot form a value nor glue itself to one.
FILLER = st.text(alphabet="abcdefghij klmnop,.!?", max_size=12).map(lambda s: f"{s} ")


@dataclass
class Draw:
    draw: Any
    values: list[str] = field(default_factory=list)

    def text(self) -> str:
        """Prose, a value alone, or a value inside prose."""
        shape = self.draw(st.sampled_from(["prose", "value", "prose with value"]))
        if shape == "prose":
            return str(self.draw(FILLER)).strip() or "ok"
        value: str = self.draw(st.sampled_from(VALUES))
        self.values.append(value)
        return value if shape == "value" else f"{self.draw(FILLER)}{value} {self.draw(FILLER)}"

    def content(self, part: str) -> str | list[dict[str, Any]]:
        if self.draw(st.booleans()):
            return self.text()
        return [{"type": part, "text": self.text()} for _ in range(self.draw(st.integers(1, 2)))]

    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "description": self.text(),
            "properties": {"city": {"type": "string", "description": self.text()}},
        }


@st.composite
def responses_body(draw: Any) -> tuple[dict[str, Any], str, list[str]]:
    d = Draw(draw)
    body: dict[str, Any] = {"max_output_tokens": 64}
    items: list[dict[str, Any]] = []
    if draw(st.booleans()):
        body["instructions"] = d.text()
    if draw(st.booleans()):
        role = draw(st.sampled_from(["system", "developer"]))
        items.append({"role": role, "content": d.content("input_text")})
    items.append({"role": "user", "content": d.content("input_text")})
    if draw(st.booleans()):
        body["tools"] = [
            {
                "type": "function",
                "name": "lookup",
                "description": d.text(),
                "parameters": d.schema(),
                "strict": None,
            }
        ]
        arguments = orjson.dumps({"query": d.text(), "notes": [d.text()]}).decode()
        items.append(
            {"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": arguments}
        )
        output = d.content("input_text") if draw(st.booleans()) else d.text()
        items.append({"type": "function_call_output", "call_id": "call_1", "output": output})
    items.append({"role": "assistant", "content": d.content("output_text")})
    last = d.text()
    items.append({"role": "user", "content": last})
    body["input"] = items
    if draw(st.booleans()):
        body["text"] = {"format": {"type": "json_schema", "name": "plan", "schema": d.schema()}}
    for name in ("user", "safety_identifier", "prompt_cache_key"):
        if draw(st.booleans()):
            body[name] = d.text()
    return body, last, d.values


@dataclass
class Served:
    http: httpx.AsyncClient
    fakes: dict[Protocol, FakeProvider]


@pytest.fixture
async def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    fakes = {p: FakeProvider(p) for p in PROVIDERS}  # reply=None: each echoes the last user turn
    for fake in fakes.values():
        await fake.start()
    specs = [
        ProviderSpec(f"{p}-1", fake, models={"default": "m", f"to-{p}": "m"})
        for p, fake in fakes.items()
    ]
    running = await start_sidecar(build_settings(tmp_path, specs), monkeypatch)
    try:
        async with httpx.AsyncClient(base_url=running.url, timeout=30) as http:
            yield Served(http, fakes)
    finally:
        await running.stop()
        for fake in fakes.values():
            await fake.stop()


def answer_text(response: httpx.Response, stream: bool) -> Any:
    """The answer's text (JSON when the request asked for it, parsed)."""
    assert response.status_code == 200, response.text
    if stream:
        final = orjson.loads(sse_events(response.content)[-1].data)
        assert final["type"] == "response.completed"
        output = final["response"]["output"]
    else:
        output = response.json()["output"]
    return "".join(part["text"] for item in output for part in item["content"])


@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=responses_body(), provider=st.sampled_from(PROVIDERS), stream=st.booleans())
async def test_no_value_reaches_the_provider_and_the_answer_restores_every_one(
    served: Served,
    request: tuple[dict[str, Any], str, list[str]],
    provider: Protocol,
    stream: bool,
) -> None:
    body, last_user_text, values = request
    fake = served.fakes[provider]
    fake.reset()
    body = {**body, "model": f"to-{provider}", "stream": stream}
    headers = {"X-Tenant-ID": "sandbox"}
    response = await served.http.post("/v1/responses", content=orjson.dumps(body), headers=headers)
    answer = answer_text(response, stream)
    assert len(fake.received) == 1
    note(f"sent {body!r}\nreceived {fake.received[0].body!r}")
    raw = fake.received[0].body
    assert [value for value in values if value.encode() in raw] == []
    if "text" in body:
        assert last_user_text in answer  # inside the JSON the fake wrote
    else:
        assert answer == last_user_text

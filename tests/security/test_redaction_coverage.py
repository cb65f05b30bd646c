"""No PII value reaches a provider that must not see it, wherever the client put it.

Hypothesis writes requests over the accepted schema of both inbound protocols (OpenAI
chat completions, Anthropic messages): text and image parts, names, image URLs, tool
calls and their results, tool schemas, system prompts, stop sequences, user ids. A PII
value goes into any string or number, or is split across adjacent parts. Each request
goes through a served sidecar to a recording fake of each provider protocol, whose raw
bytes are searched for every value; the fake echoes the last user turn, which must come
back to the client with every value restored. Some requests are large enough to be
redacted ahead, in the scan process.

Derandomized, so a run is the same every time; for a longer search raise MAX_EXAMPLES.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from tests.fakes import FakeProvider, Protocol
from tests.sidecar import ProviderSpec, build_settings, start_sidecar

MAX_EXAMPLES = 60
PROVIDERS: tuple[Protocol, ...] = ("openai", "azure_openai", "anthropic", "gemini")
# Synthetic values of structured types, each found by the detector standing alone.
TEXT_VALUES = (
    "jane.roe@example.org",
    "+44 20 7946 0958",
    "(415) 555-0132",
    "DE89 3704 0044 0532 0130 00",
    "4111 1111 1111 1111",
    "536-22-9145",
    "203.0.113.7",
    "AKIAZ7SYNTHETIC0KEY2",
    "sk-proj-SyntheticTestKey0123456789abcdefXYZ",
)
NUMBER_VALUES = (4111111111111111, 5500005555555559, 378282246310005)
# Filler that cannot form a value nor glue itself to one.
FILLER = st.text(alphabet="abcdefghij klmnop,.!?", max_size=12).map(lambda s: f"{s} ")
# Makes the body large enough to be redacted ahead, in the scan process (_offload).
LARGE_PROSE = "lorem ipsum dolor sit amet " * 1300
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c63f8cfc0f01f0005000201e2b3a3a10000000049454e44ae426082"
    )
).decode()


@dataclass
class Values:
    """What one example inserted."""

    texts: list[str] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)


class Draw:
    """Hypothesis' draw, with helpers that place values and remember them."""

    def __init__(self, draw: Any, values: Values) -> None:
        self.draw = draw
        self.values = values

    def pii(self) -> str:
        value: str = self.draw(st.sampled_from(TEXT_VALUES))
        self.values.texts.append(value)
        return value

    def text(self) -> str:
        """A string that may hold a value: prose around it, or the value alone."""
        shape = self.draw(st.sampled_from(["prose", "value", "prose with value"]))
        if shape == "prose":
            return str(self.draw(FILLER)).strip() or "ok"
        if shape == "value":
            return self.pii()
        return f"{self.draw(FILLER)}{self.pii()} {self.draw(FILLER)}"

    def number(self) -> int | float:
        value: int = self.draw(st.sampled_from(NUMBER_VALUES))
        self.values.numbers.append(value)
        written = self.draw(st.sampled_from(["int", "float", "negative"]))
        return float(value) if written == "float" else -value if written == "negative" else value

    def json_value(self, depth: int = 0) -> Any:
        kind = self.draw(
            st.sampled_from(
                ["text", "number", "object", "list"] if depth < 2 else ["text", "number"]
            )
        )
        if kind == "text":
            return self.text()
        if kind == "number":
            return self.number()
        if kind == "list":
            return [self.json_value(depth + 1) for _ in range(self.draw(st.integers(1, 2)))]
        return {
            self.text(): self.json_value(depth + 1) for _ in range(self.draw(st.integers(1, 2)))
        }

    def split(self) -> list[str]:
        """Adjacent texts that hold one value cut in two (or more) pieces."""
        value = self.pii()
        cuts = sorted(
            set(self.draw(st.lists(st.integers(1, len(value) - 1), min_size=1, max_size=2)))
        )
        pieces = [value[a:b] for a, b in zip([0, *cuts], [*cuts, len(value)], strict=True)]
        pieces[0] = f"{self.draw(FILLER)}{pieces[0]}"
        pieces[-1] = f"{pieces[-1]} {self.draw(FILLER)}"
        return pieces

    def texts(self) -> list[str]:
        """The texts of one message's parts."""
        if self.draw(st.booleans()):
            return self.split()
        return [self.text() for _ in range(self.draw(st.integers(1, 2)))]

    def image_url(self) -> str:
        kind = self.draw(st.sampled_from(["query", "path", "escaped", "data"]))
        if kind == "data":
            return f"data:image/png;base64,{PNG}"
        value = self.pii()
        if kind == "query":
            return f"https://img.example/a.png?owner={value}"
        if kind == "escaped":
            return f"https://img.example/a.png?note=see%20{quote(value, safe='')}%20now"
        return f"https://img.example/see%20{quote(value, safe='')}%20now/a.png"

    def arguments(self) -> str:
        document = orjson.dumps({self.text(): self.json_value() for _ in range(2)}).decode()
        if self.draw(st.booleans()):
            # A duplicate key: the parsed copy keeps the last value only.
            document = f'{{"key": "{self.pii()}", "key": "x", {document[1:]}'
        return document

    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                self.text(): {
                    "type": "string",
                    "description": self.text(),
                    "default": self.json_value(),
                }
            },
        }


def openai_parts(d: Draw, *, images: bool) -> str | list[dict[str, Any]]:
    texts = d.texts()
    if len(texts) == 1 and not images and d.draw(st.booleans()):
        return texts[0]
    parts: list[dict[str, Any]] = [{"type": "text", "text": t} for t in texts]
    if images and d.draw(st.booleans()):
        parts.insert(
            d.draw(st.integers(0, len(parts))),
            {"type": "image_url", "image_url": {"url": d.image_url()}},
        )
    return parts


@st.composite
def openai_body(draw: Any) -> tuple[dict[str, Any], str, Values]:
    values = Values()
    d = Draw(draw, values)
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append(
            {
                "role": draw(st.sampled_from(["system", "developer"])),
                "content": openai_parts(d, images=False),
            }
        )
    first: dict[str, Any] = {"role": "user", "content": openai_parts(d, images=True)}
    if draw(st.booleans()):
        first["name"] = d.text()
    messages.append(first)
    tools: list[dict[str, Any]] = []
    if draw(st.booleans()):
        ids = [d.text() for _ in range(draw(st.integers(1, 2)))]
        name = d.text()
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": i,
                        "type": "function",
                        "function": {"name": name, "arguments": d.arguments()},
                    }
                    for i in ids
                ],
            }
        )
        messages += [
            {"role": "tool", "tool_call_id": i, "content": openai_parts(d, images=False)}
            for i in ids
        ]
        tools = [
            {
                "type": "function",
                "function": {"name": name, "description": d.text(), "parameters": d.schema()},
            }
        ]
    if draw(st.booleans()):
        messages.append({"role": "assistant", "content": LARGE_PROSE})
    messages.append({"role": "assistant", "content": openai_parts(d, images=False)})
    last = openai_parts(d, images=True)
    messages.append({"role": "user", "content": last})
    body: dict[str, Any] = {"messages": messages, "max_tokens": 64}
    if tools:
        body["tools"] = tools
        body["tool_choice"] = {
            "type": "function",
            "function": {"name": tools[0]["function"]["name"]},
        }
    if draw(st.booleans()):
        body["stop"] = [d.text()]
    if draw(st.booleans()):
        body["user"] = d.text()
    return body, _joined(last), values


def anthropic_blocks(d: Draw, *, images: bool) -> str | list[dict[str, Any]]:
    texts = d.texts()
    if len(texts) == 1 and not images and d.draw(st.booleans()):
        return texts[0]
    blocks: list[dict[str, Any]] = [{"type": "text", "text": t} for t in texts]
    if images and d.draw(st.booleans()):
        url = d.image_url()
        source = (
            {"type": "base64", "media_type": "image/png", "data": PNG}
            if url.startswith("data:")
            else {"type": "url", "url": url}
        )
        blocks.insert(d.draw(st.integers(0, len(blocks))), {"type": "image", "source": source})
    return blocks


@st.composite
def anthropic_body(draw: Any) -> tuple[dict[str, Any], str, Values]:
    values = Values()
    d = Draw(draw, values)
    body: dict[str, Any] = {"max_tokens": 64}
    if draw(st.booleans()):
        system = anthropic_blocks(d, images=False)
        body["system"] = system
    messages: list[dict[str, Any]] = [{"role": "user", "content": anthropic_blocks(d, images=True)}]
    if draw(st.booleans()):
        ids = [d.text() for _ in range(draw(st.integers(1, 2)))]
        name = d.text()
        uses = [
            {"type": "tool_use", "id": i, "name": name, "input": orjson.loads(d.arguments())}
            for i in ids
        ]
        messages.append(
            {"role": "assistant", "content": [{"type": "text", "text": d.text()}, *uses]}
        )
        results = [
            {"type": "tool_result", "tool_use_id": i, "content": anthropic_blocks(d, images=True)}
            for i in ids
        ]
        messages.append({"role": "user", "content": results})
        body["tools"] = [{"name": name, "description": d.text(), "input_schema": d.schema()}]
        body["tool_choice"] = {"type": "tool", "name": name}
    if draw(st.booleans()):
        messages.append({"role": "assistant", "content": LARGE_PROSE})
    messages.append({"role": "assistant", "content": anthropic_blocks(d, images=False)})
    last = anthropic_blocks(d, images=True)
    messages.append({"role": "user", "content": last})
    body["messages"] = messages
    if draw(st.booleans()):
        body["stop_sequences"] = [d.text()]
    if draw(st.booleans()):
        body["metadata"] = {"user_id": d.text()}
    return body, _joined(last), values


def _joined(content: str | list[dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    return "".join(part["text"] for part in content if part["type"] == "text")


# -- what reached the provider -------------------------------------------------------


def _leaves(document: Any, key: str = "") -> tuple[list[str], list[Any]]:
    """The text leaves a model reads (in document order) and every number."""
    texts: list[str] = []
    numbers: list[Any] = []
    if isinstance(document, dict):
        for k, item in document.items():
            t, n = _leaves(item, k)
            texts += t
            numbers += n
    elif isinstance(document, list):
        for item in document:
            t, n = _leaves(item, key)
            texts += t
            numbers += n
    elif isinstance(document, str) and key in ("text", "content", "output", "error"):
        texts.append(document)
    elif isinstance(document, int | float) and not isinstance(document, bool):
        numbers.append(document)
    return texts, numbers


def leaked(fake: FakeProvider, values: Values) -> list[str]:
    found = []
    for received in fake.received:
        raw = received.body + received.path.encode() + repr(dict(received.query)).encode()
        raw += unquote(raw.decode(errors="replace")).encode()  # values escaped in URLs
        texts, numbers = _leaves(received.json)
        read_as_one = "".join(texts)  # adjacent parts, as the model reads them
        for value in values.texts:
            if value.encode() in raw or value in read_as_one:
                found.append(value)
        for number in values.numbers:
            digits = str(number)
            written = [repr(abs(n)) for n in numbers] + [
                str(int(abs(n))) for n in numbers if float(n).is_integer()
            ]
            if digits.encode() in raw or any(digits in w for w in written):
                found.append(digits)
    return found


# -- the served sidecar --------------------------------------------------------------


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


async def answer_text(response: httpx.Response, protocol: str, stream: bool) -> str:
    assert response.status_code == 200, response.text
    if not stream:
        body = response.json()
        if protocol == "openai":
            return body["choices"][0]["message"]["content"] or ""
        return "".join(block.get("text", "") for block in body["content"])
    text = ""
    for line in response.text.splitlines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        event = orjson.loads(line[6:])
        if protocol == "openai":
            for choice in event.get("choices", []):
                text += choice["delta"].get("content") or ""
        elif event.get("type") == "content_block_delta":
            text += event["delta"].get("text", "")
    return text


requests = st.one_of(
    st.tuples(st.just("openai"), openai_body()),
    st.tuples(st.just("anthropic"), anthropic_body()),
)


@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(request=requests, provider=st.sampled_from(PROVIDERS), stream=st.booleans())
async def test_no_value_reaches_the_provider_and_the_answer_restores_every_one(
    served: Served,
    request: tuple[str, tuple[dict[str, Any], str, Values]],
    provider: Protocol,
    stream: bool,
) -> None:
    protocol, (body, last_user_text, values) = request
    fake = served.fakes[provider]
    fake.reset()
    body = {**body, "model": f"to-{provider}", "stream": stream}
    path = "/v1/chat/completions" if protocol == "openai" else "/v1/messages"
    headers = {"X-Tenant-ID": "sandbox"}
    response = await served.http.post(path, content=orjson.dumps(body), headers=headers)
    answer = await answer_text(response, protocol, stream)
    assert len(fake.received) == 1
    note(f"sent {body!r}\nreceived {fake.received[0].body!r}")
    assert leaked(fake, values) == []
    assert answer == last_user_text

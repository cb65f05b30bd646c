"""A hostile provider: exact bytes over a raw socket, whatever a framework would refuse.

The well-behaved fakes (`FakeProvider`) speak each wire format as documented; this one
writes what the test scripts, byte for byte and at the pace it chooses: wrong types
in every field, huge and endless bodies, endless SSE comments, invalid UTF-8, echoes
of the request's key, interim (1xx) answers, a slow drip.

    async with HostileProvider("anthropic") as hostile:
        hostile.always(json_answer({"type": "message", "content": [], "usage": "lots"}))
        hostile.script(endless_sse(b": ping\\n\\n", every_s=1))   # first request only
        ...  # hostile.base_url, hostile.received

An answer is a function of the request (so it can echo it) to a sequence of pieces:
bytes to write, a `Pause`, or a `Forever` piece written again and again until the
client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from tests.fakes._behaviours import Call, Ok
from tests.fakes._server import _DIALECTS, Protocol


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class Wait:
    """Hold the answer here until the test sets `event`."""

    event: asyncio.Event


@dataclass(frozen=True)
class Forever:
    """Write `piece` every `every_s` seconds until the client leaves."""

    piece: bytes
    every_s: float = 0.0


Piece = bytes | Pause | Wait | Forever


@dataclass(frozen=True)
class RawRequest:
    head: bytes
    headers: dict[str, str]  # lower-cased names; the last of repeats
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


Answer = Callable[[RawRequest], Sequence[Piece]]


def _head(status: int, headers: Mapping[str, str], reason: str = "OK") -> bytes:
    # "connection: close" keeps the sidecar from reusing a connection this fake will close.
    fields = {**headers, "connection": "close"}
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def raw(*pieces: Piece) -> Answer:
    """Exactly these pieces, whatever was asked."""
    return lambda request: pieces


def body_answer(
    body: bytes, status: int = 200, content_type: str = "application/json", **extra: str
) -> Answer:
    headers = {"content-type": content_type, "content-length": str(len(body)), **extra}
    return raw(_head(status, headers), body)


def json_answer(document: Any, status: int = 200) -> Answer:
    """`document` as JSON by the standard library, which writes any integer and `1e300`."""
    return body_answer(json.dumps(document).encode(), status)


def sse_answer(events: Iterable[bytes], *, pause_s: float = 0.0) -> Answer:
    """A stream ended by closing the connection (no length, no chunks)."""
    pieces: list[Piece] = [_head(200, {"content-type": "text/event-stream"})]
    for event in events:
        pieces.append(event)
        if pause_s:
            pieces.append(Pause(pause_s))
    return raw(*pieces)


def sse_event(data: Any, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}\n" if event else "").encode() + f"data: {payload}\n\n".encode()


def endless_sse(piece: bytes, *, every_s: float, first: Sequence[bytes] = ()) -> Answer:
    """`first` events, then `piece` (an SSE comment, say) forever."""
    head = _head(200, {"content-type": "text/event-stream"})
    return raw(head, *first, Forever(piece, every_s))


def endless_body(piece: bytes = b"x" * 65536, content_type: str = "application/json") -> Answer:
    """A body with neither length nor end: it stops only when the client leaves."""
    return raw(_head(200, {"content-type": content_type}), Forever(piece))


def interim(answer: Answer, *interims: bytes) -> Answer:
    """1xx answers (100 Continue, 103 Early Hints...) before `answer`."""
    heads = interims or (b"HTTP/1.1 100 Continue\r\n\r\n",)
    return lambda request: [*heads, *answer(request)]


def drip(answer: Answer, *, every_s: float, size: int = 1) -> Answer:
    """`answer` written `size` bytes at a time."""

    def dripping(request: RawRequest) -> Sequence[Piece]:
        data = b"".join(p for p in answer(request) if isinstance(p, bytes))
        out: list[Piece] = []
        for start in range(0, len(data), size):
            out += [data[start : start + size], Pause(every_s)]
        return out

    return dripping


def echo_key(status: int = 400, form: Callable[[str], str] = str) -> Answer:
    """An error that echoes the request's credentials back, in `form`."""

    def echo(request: RawRequest) -> Sequence[Piece]:
        sent = " ".join(
            request.headers.get(name, "")
            for name in ("authorization", "x-api-key", "x-goog-api-key")
        ).strip()
        message = f"invalid request; you sent: {form(sent)}"
        document = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
        return json_answer(document, status)(request)

    return echo


# -- hostile variants of valid answers ---------------------------------------------------

VALID = Ok(text="Hello there", tool_calls=(Call("lookup", {"q": "x"}, id="call_1"),))
Event = tuple[bytes, Any]  # an SSE event: its lines before "data: ", and its data


def valid_plain(protocol: Protocol, ok: Ok = VALID) -> Any:
    """The well-behaved fake's answer, as a JSON document to spoil."""
    reply = _DIALECTS[protocol]().ok(ok, ok.text or "", "model-x", False, {})
    return json.loads(reply.body)


def valid_stream(protocol: Protocol, ok: Ok = VALID) -> list[Event]:
    """The well-behaved fake's stream, event by event, data parsed (but "[DONE]")."""
    asked = {"stream": True, "stream_options": {"include_usage": True}}
    reply = _DIALECTS[protocol]().ok(ok, ok.text or "", "model-x", True, asked)
    events: list[Event] = []
    for event in reply.events or []:
        head, _, data = event.rstrip(b"\n").rpartition(b"data: ")
        text = data.decode()
        events.append((head, text if text == "[DONE]" else json.loads(text)))
    return events


def stream_wire(events: Sequence[Event]) -> bytes:
    return b"".join(
        head + b"data: " + (data if isinstance(data, str) else json.dumps(data)).encode() + b"\n\n"
        for head, data in events
    )


def replaced(document: Any, path: Sequence[Any], value: Any) -> Any:
    """A copy of `document` with the field at `path` (keys and indexes) set to `value`."""
    copy = json.loads(json.dumps(document))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copy


def paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every field of a JSON document, containers included, as paths."""
    if path:
        yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*path, index))


def nested(depth: int) -> Any:
    """An object nested `2 * depth` containers deep."""
    value: Any = 1
    for _ in range(depth):
        value = {"a": [value]}
    return value


class HostileProvider:
    """Duck-types FakeProvider where tests.sidecar.ProviderSpec reads it (protocol, base_url)."""

    def __init__(self, protocol: Protocol = "openai", *, name: str = "hostile") -> None:
        self.protocol = protocol
        self.name = name
        self.received: list[RawRequest] = []
        self._script: deque[Answer] = deque()
        self._always: Answer = json_answer({"error": {"message": "no answer scripted"}}, 500)
        self._server: asyncio.Server | None = None
        self._port = 0
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str:
        root = f"http://127.0.0.1:{self._port}"
        return f"{root}/v1" if self.protocol == "openai" else root

    def script(self, *answers: Answer) -> None:
        self._script.extend(answers)

    def always(self, answer: Answer) -> None:
        self._always = answer

    async def __aenter__(self) -> HostileProvider:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self._port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        for task in list(self._handlers):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            # One request per connection: a hostile answer leaves it in no state to reuse.
            request = await _read_request(reader)
            if request is not None:
                self.received.append(request)
                answer = self._script.popleft() if self._script else self._always
                await _write(writer, answer(request))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the sidecar went away mid-answer: what hostile answers are for
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> RawRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    headers: dict[str, str] = {}
    for line in head.split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon:
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return RawRequest(head, headers, body)


async def _write(writer: asyncio.StreamWriter, pieces: Sequence[Piece]) -> None:
    for piece in pieces:
        if isinstance(piece, Pause):
            await asyncio.sleep(piece.seconds)
        elif isinstance(piece, Wait):
            await piece.event.wait()
        elif isinstance(piece, Forever):
            while True:
                writer.write(piece.piece)
                await writer.drain()
                await asyncio.sleep(piece.every_s)
        else:
            writer.write(piece)
            await writer.drain()


__all__ = [
    "VALID",
    "Answer",
    "Event",
    "Forever",
    "HostileProvider",
    "Pause",
    "RawRequest",
    "Wait",
    "body_answer",
    "drip",
    "echo_key",
    "endless_body",
    "endless_sse",
    "interim",
    "json_answer",
    "nested",
    "paths",
    "raw",
    "replaced",
    "sse_answer",
    "sse_event",
    "stream_wire",
    "valid_plain",
    "valid_stream",
]

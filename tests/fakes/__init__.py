"""Fake LLM providers for tests: real loopback HTTP in each provider's wire format.

    async with FakeProvider("anthropic", reply="Hi") as fake:   # reply=None echoes
        fake.script(RateLimited(retry_after=2), Ok())           # one per request, in order
        fake.always(Overloaded())                               # after the script runs out
        ...  # point the sidecar at fake.base_url with api key "test-key"
        assert fake.received[0].json["messages"]
        fake.script_embeddings(BadVectors("nan"))             # embeddings calls only

Each fake also serves its provider's embeddings endpoint, answering `fake_vector(model,
text)` per input, so a test can tell which model a vector came from.

`stream_bytes(protocol, Ok(...))` gives the exact SSE body without a server.
"""

from tests.fakes._behaviours import (
    Behaviour,
    Call,
    ConnectionReset,
    ContentFilter,
    ErrorUnder200,
    InvalidRequest,
    MalformedJSON,
    MalformedSSE,
    Ok,
    Overloaded,
    Oversized,
    RateLimited,
    ServerError,
    SlowFirstByte,
    StallStream,
    StreamCut,
    Unauthorized,
    Unavailable,
    WrongContentType,
)
from tests.fakes._embeddings import BadVectors, fake_tokens, fake_vector
from tests.fakes._server import FakeProvider, Protocol, Received, stream_bytes

__all__ = [
    "BadVectors",
    "Behaviour",
    "Call",
    "ConnectionReset",
    "ContentFilter",
    "ErrorUnder200",
    "FakeProvider",
    "InvalidRequest",
    "MalformedJSON",
    "MalformedSSE",
    "Ok",
    "Overloaded",
    "Oversized",
    "Protocol",
    "RateLimited",
    "Received",
    "ServerError",
    "SlowFirstByte",
    "StallStream",
    "StreamCut",
    "Unauthorized",
    "Unavailable",
    "WrongContentType",
    "fake_tokens",
    "fake_vector",
    "stream_bytes",
]

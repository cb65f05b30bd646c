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

The cloud fakes check credentials as their clouds do: `FakeProvider("bedrock")`
verifies each SigV4 signature (`fake.aws`: the keys it knows), `FakeProvider("vertex")`
each bearer token, which it issues itself to the service-account key it writes
(`fake.google`, `fake.credentials_file`); `fake.options()` is their config.
"""

from tests.fakes._aws import (
    ACCESS_KEY_ID,
    AWS_VARIABLES,
    SECRET_ACCESS_KEY,
    FakeSts,
    SigV4Door,
    aws_environment,
)
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
from tests.fakes._google import BearerDoor
from tests.fakes._server import FakeProvider, Protocol, Received, all_running, stream_bytes

__all__ = [
    "ACCESS_KEY_ID",
    "AWS_VARIABLES",
    "SECRET_ACCESS_KEY",
    "BadVectors",
    "BearerDoor",
    "Behaviour",
    "Call",
    "ConnectionReset",
    "ContentFilter",
    "ErrorUnder200",
    "FakeProvider",
    "FakeSts",
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
    "SigV4Door",
    "SlowFirstByte",
    "StallStream",
    "StreamCut",
    "Unauthorized",
    "Unavailable",
    "WrongContentType",
    "all_running",
    "aws_environment",
    "fake_tokens",
    "fake_vector",
    "stream_bytes",
]

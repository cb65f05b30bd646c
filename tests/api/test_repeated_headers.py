"""Repeated routing and identity headers only tighten, or are refused; never the first wins.

Sent over raw sockets: client libraries merge repeated headers before they leave.
- `X-Privacy-Tags` lines add up (RFC 9110 lists): `pii` then `pci` is `pii, pci`.
- `X-Data-Residency` lines must agree: `eu` then `us` is a 400; an empty line adds nothing.
- `X-Tenant-ID`, `Authorization` and `x-api-key` carry one value: a second line, even
  after an empty first one, is a 400 in the protocol's shape, and audited.

In this world `cloud` (US, not self-hosted) is tried first when allowed, `onprem` (EU,
self-hosted) second; a `pci` tag allows only `onprem`, as does residency `eu`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson
import pytest
import pytest_asyncio

from tests.api._raw import RawAnswer, exchange, port_of
from tests.fakes import FakeProvider
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHAT = orjson.dumps({"model": "default", "messages": [{"role": "user", "content": "Hi"}]})
MESSAGES = orjson.dumps(
    {"model": "default", "max_tokens": 16, "messages": [{"role": "user", "content": "Hi"}]}
)
JSON = b"Content-Type: application/json"


@dataclass
class World:
    sidecar: RunningSidecar
    onprem: FakeProvider
    cloud: FakeProvider

    async def send(self, *lines: bytes, anthropic: bool = False) -> RawAnswer:
        path = b"/v1/messages" if anthropic else b"/v1/chat/completions"
        body = MESSAGES if anthropic else CHAT
        return await exchange(port_of(self.sidecar.url), [JSON, *lines], body, path=path)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with (
        FakeProvider("openai", name="onprem") as onprem,
        FakeProvider("anthropic", name="cloud") as cloud,
    ):
        settings = build_settings(
            tmp_path_factory.mktemp("repeated-headers"),
            [
                ProviderSpec(
                    "onprem",
                    onprem,
                    attributes={"residency": "eu", "self_hosted": True},
                    priority=2,
                ),
                ProviderSpec("cloud", cloud, attributes={"residency": "us"}, priority=1),
            ],
        )
        with pytest.MonkeyPatch.context() as monkeypatch:
            running = await start_sidecar(settings, monkeypatch)
            yield World(running, onprem, cloud)
            await running.stop()
        running.verify_audit()


@pytest.mark.parametrize(
    "lines",
    [
        [b"X-Privacy-Tags: pii", b"X-Privacy-Tags: pci"],
        [b"X-Privacy-Tags:", b"X-Privacy-Tags: pci"],
        [b"X-Privacy-Tags: ", b"x-privacy-tags: pii", b"X-PRIVACY-TAGS: pci"],
        [b"X-Privacy-Tags: pci", b"X-Privacy-Tags: pii"],
    ],
    ids=["pii-then-pci", "empty-then-pci", "three-lines-any-case", "pci-then-pii"],
)
async def test_repeated_privacy_tags_add_up(world: World, lines: list[bytes]) -> None:
    before = len(world.cloud.received)

    answer = await world.send(b"X-Tenant-ID: sandbox", *lines)

    assert (answer.status, answer.headers["x-routed-provider"]) == (200, "onprem")
    assert len(world.cloud.received) == before, "a pci request reached a cloud provider"
    record = world.sidecar.audit_events()[-1]
    assert "pci" in record["context"]["privacy_tags"], "the record holds the tighter tags"


@pytest.mark.parametrize(
    "lines",
    [
        [b"X-Data-Residency:", b"X-Data-Residency: eu"],
        [b"X-Data-Residency: eu", b"X-Data-Residency: EU"],
        [b"X-Data-Residency: eu", b"X-Data-Residency:"],
    ],
    ids=["empty-then-eu", "eu-twice", "eu-then-empty"],
)
async def test_repeated_residency_lines_that_agree_count_once(
    world: World, lines: list[bytes]
) -> None:
    answer = await world.send(b"X-Tenant-ID: sandbox", *lines)

    assert (answer.status, answer.headers["x-routed-provider"]) == (200, "onprem")
    assert world.sidecar.audit_events()[-1]["context"]["residency"] == "eu"


@pytest.mark.parametrize(
    "lines",
    [
        [b"X-Data-Residency: eu", b"X-Data-Residency: us"],
        [b"X-Data-Residency: us", b"X-Data-Residency: eu"],
        [b"X-Data-Residency: eu, us"],
    ],
    ids=["eu-then-us", "us-then-eu", "one-line-list"],
)
@pytest.mark.parametrize("anthropic", [False, True], ids=["openai", "anthropic"])
async def test_residencies_that_disagree_are_a_400(
    world: World, lines: list[bytes], anthropic: bool
) -> None:
    answer = await world.send(b"X-Tenant-ID: sandbox", *lines, anthropic=anthropic)

    assert_refused(world, answer, anthropic, "X-Data-Residency")


@pytest.mark.parametrize(
    "lines",
    [
        [b"X-Tenant-ID: sandbox", b"X-Tenant-ID: paystream"],
        [b"X-Tenant-ID:", b"X-Tenant-ID: sandbox"],
        [b"X-Tenant-ID: sandbox", b"X-Tenant-ID: sandbox"],
        [b"X-Tenant-ID: sandbox", b"Authorization: Bearer a", b"Authorization: Bearer b"],
        [b"X-Tenant-ID: sandbox", b"Authorization:", b"Authorization: Bearer b"],
        [b"X-Tenant-ID: sandbox", b"x-api-key: a", b"X-Api-Key: b"],
    ],
    ids=[
        "two-tenants",
        "empty-then-tenant",
        "same-tenant-twice",
        "two-bearer-tokens",
        "empty-then-bearer",
        "two-api-keys",
    ],
)
@pytest.mark.parametrize("anthropic", [False, True], ids=["openai", "anthropic"])
async def test_a_repeated_identity_header_is_a_400(
    world: World, lines: list[bytes], anthropic: bool
) -> None:
    before = len(world.cloud.received) + len(world.onprem.received)

    answer = await world.send(*lines, anthropic=anthropic)

    name = lines[-1].split(b":")[0].decode().lower()
    assert_refused(world, answer, anthropic, name)
    assert len(world.cloud.received) + len(world.onprem.received) == before


def assert_refused(world: World, answer: RawAnswer, anthropic: bool, header: str) -> None:
    """A 400 in the route's protocol shape naming `header`, with its audit record."""
    assert answer.status == 400
    document = answer.json()
    if anthropic:
        assert document["type"] == "error"
        assert document["error"]["type"] == "invalid_request_error"
    else:
        assert document["error"]["code"] == "invalid_request"
        assert document["error"]["param"].lower() == header.lower()
    assert header.lower() in document["error"]["message"].lower()
    record = world.sidecar.audit_events()[-1]
    assert (record["request_id"], record["outcome"], record["status"]) == (
        answer.headers["x-request-id"],
        "bad_request",
        400,
    )

"""The answer budget: one bound on provider-answer bytes held at once, across requests.

A provider answer is read into memory and kept until the reply made of it is dropped
(non-streamed), or held by the stream decoder until its event is complete (streamed).
Each counts against one shared budget; the attempt that would pass it fails as
OVERLOADED (the router then falls back), and every byte is given back however the
exchange ends.
"""

from __future__ import annotations

import asyncio

import pytest

from adapters import ProviderError, ProviderErrorKind, provider_codec
from policy_engine.routing import AnswerBudget, UpstreamTransport
from tests.fakes._hostile import HostileProvider, Wait, raw
from tests.routing.test_transport import post

PART = 600 * 1024
HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"


def client(budget: AnswerBudget) -> UpstreamTransport:
    return UpstreamTransport(
        connect_timeout_s=2, first_byte_timeout_s=5, max_response_bytes=PART * 2, budget=budget
    )


async def held_at_least(budget: AnswerBudget, size: int) -> None:
    """Wait until `size` bytes are held (polling a condition, with a bound)."""
    for _ in range(1000):
        if budget.held >= size:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the budget never held {size} bytes")


async def test_an_answer_that_would_pass_the_budget_fails_as_overloaded() -> None:
    budget = AnswerBudget(PART + PART // 2)
    release = asyncio.Event()
    async with HostileProvider() as hostile:
        hostile.script(
            raw(HEAD % (PART + 2), b"a" * PART, Wait(release), b"a!"),
            raw(HEAD % PART, b"b" * PART),
        )
        transport = client(budget)
        first = asyncio.create_task(transport.send(post(hostile.base_url)))
        await held_at_least(budget, PART)

        with pytest.raises(ProviderError) as refused:
            await transport.send(post(hostile.base_url))

        release.set()
        answered = await first
        await transport.close()
    assert refused.value.kind is ProviderErrorKind.OVERLOADED
    assert refused.value.status == 200, "the attempt's record keeps the answer's status"
    assert answered.body.endswith(b"a!")
    assert (budget.held, budget.refusals) == (PART + 2, 1), "held while the answer is kept"
    answered.hold.release()
    assert budget.held == 0


async def test_an_answer_is_held_until_it_is_given_back() -> None:
    budget = AnswerBudget(4 * PART)
    async with HostileProvider() as hostile:
        hostile.always(raw(HEAD % PART, b"c" * PART))
        transport = client(budget)
        answers = await asyncio.gather(*(transport.send(post(hostile.base_url)) for _ in range(3)))
        await transport.close()
    assert [len(a.body) for a in answers] == [PART] * 3
    assert (budget.held, budget.refusals) == (3 * PART, 0)
    for answer in answers:  # as each reply made of them is written
        answer.hold.release()
    assert budget.held == 0


async def test_what_a_stream_decoder_holds_of_an_unfinished_event_counts() -> None:
    budget = AnswerBudget(PART + PART // 2)
    release = asyncio.Event()
    stream_head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n"
    async with HostileProvider() as hostile:
        hostile.script(
            raw(HEAD % (2 * PART), b"a" * PART, Wait(release)),
            # An event that never ends: one data line, never a blank line after it.
            raw(stream_head, b"data: " + b"x" * PART),
        )
        transport = client(budget)
        first = asyncio.create_task(transport.send(post(hostile.base_url)))
        await held_at_least(budget, PART)
        decoder = provider_codec("openai").stream_decoder()

        with pytest.raises(ProviderError) as refused:
            async with transport.open(post(hostile.base_url)) as stream:
                async for chunk in stream.chunks(reader=decoder):
                    decoder.feed(chunk)

        first.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await first
        await transport.close()
    assert refused.value.kind is ProviderErrorKind.OVERLOADED
    assert budget.held == 0

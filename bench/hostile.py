"""Hostile load: a hostile provider and hostile clients against a sidecar process.

Each family is sent with some concurrency; every answer is tallied by status, every
answer carrying a request id must have its audit record, the sidecar must stay up, and
the peak RSS of the sidecar and its audit writer (VmHWM, summed) is compared with the
container limit shipped in deploy/k8s (512 MiB).

    .venv/bin/python -m bench.hostile          # the figures in bench/RELIABILITY.md

Families:
- large answers: the hostile provider answers valid 30 MiB chat completions to 16
  clients at once (the adversarial review took the sidecar from 100 to 569 MB this way);
- hostile answers: every spoiled answer of tests/reliability/test_hostile_provider.py,
  streamed and not, in each provider protocol;
- endless streams: a stream committed by a first event, then an SSE comment a second;
- hostile clients: deep JSON, huge arrays, repeated and malformed headers;
- slowloris: 3,000 connections, each writing one header line every 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.gateway._procs import descendants
from policy_engine.audit import iter_records
from tests.fakes import FakeProvider, Ok, Protocol
from tests.fakes._hostile import (
    HostileProvider,
    endless_sse,
    raw,
    stream_wire,
    valid_plain,
    valid_stream,
)
from tests.reliability._process import SidecarProcess
from tests.reliability.test_hostile_provider import PLAIN_CASES, STREAM_CASES
from tests.sidecar import API_KEY, ProviderSpec, build_settings

CONTAINER_LIMIT_MIB = 512  # deploy/k8s/deployment.yaml
EU = {"residency": "eu"}
HEADERS = {"X-Tenant-ID": "sandbox", "X-Data-Residency": "eu"}
CHAT = {"model": "default", "messages": [{"role": "user", "content": "Hi"}]}


@dataclass
class Family:
    name: str
    tried: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    request_ids: list[str] = field(default_factory=list)
    transport_errors: int = 0
    server_errors: Counter[str] = field(default_factory=Counter)  # 5xx messages

    def count(self, status: int, request_id: str | None, body: bytes) -> None:
        self.tried += 1
        self.statuses[status] += 1
        if request_id:
            self.request_ids.append(request_id)
        if status >= 500:
            self.server_errors[body[:160].decode(errors="replace")] += 1


def peak_rss_mib(pid: int) -> float:
    total_kb = 0
    for member in descendants(pid):
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


async def send(
    http: httpx.AsyncClient, url: str, family: Family, body: Any, headers: dict[str, str]
) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        async with http.stream("POST", url, content=content, headers=headers) as response:
            body = await response.aread()
    except httpx.TransportError:
        family.transport_errors += 1
        return
    family.count(response.status_code, response.headers.get("x-request-id"), body)


async def run_at_once(jobs: Sequence[Callable[[], Awaitable[None]]], concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[None]]) -> None:
        async with gate:
            await job()

    await asyncio.gather(*(one(job) for job in jobs))


async def large_answers(http: httpx.AsyncClient, url: str, hostile: HostileProvider) -> Family:
    family = Family("large answers (30 MiB, 16 at once)")
    body = json.dumps(valid_plain("openai", Ok(text="x" * (30 * 1024 * 1024)))).encode()
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
    hostile.always(raw(head + b"content-length: %d\r\n\r\n" % len(body), body))
    chat = f"{url}/v1/chat/completions"
    await run_at_once([lambda: send(http, chat, family, CHAT, HEADERS)] * 64, 16)
    return family


async def hostile_answers(
    http: httpx.AsyncClient, url: str, hostiles: dict[Protocol, HostileProvider], rounds: int
) -> Family:
    family = Family("hostile answers")
    chat = f"{url}/v1/chat/completions"
    for _ in range(rounds):
        for protocol, hostile in hostiles.items():
            others = [h for p, h in hostiles.items() if p != protocol]
            for other in others:
                other.always(raw(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n"))
            for stream, cases in ((False, PLAIN_CASES), (True, STREAM_CASES)):
                for case in cases.values():
                    hostile.always(case(protocol))
                    await send(http, chat, family, CHAT | {"stream": stream}, HEADERS)
    return family


async def endless_streams(
    http: httpx.AsyncClient, url: str, hostile: HostileProvider, count: int
) -> Family:
    family = Family("endless streams (SSE comments past the deadline)")
    events = valid_stream("openai", Ok(text="Hi"))
    first = [stream_wire(events[:2])]
    hostile.always(endless_sse(b": keep-alive\n\n", every_s=1, first=first))
    chat = f"{url}/v1/chat/completions"
    body = CHAT | {"stream": True}
    await run_at_once([lambda: send(http, chat, family, body, HEADERS)] * count, 16)
    return family


def _nested(body: dict[str, Any], depth: int) -> bytes:
    """`body` with a "metadata" field `2 * depth` containers deep (written by hand: the
    standard library's encoder recurses)."""
    deep = b'{"a": [' * depth + b"1" + b"]}" * depth
    return json.dumps(body).encode()[:-1] + b', "metadata": ' + deep + b"}"


HOSTILE_CLIENTS: list[tuple[str, Any, dict[str, str]]] = [
    ("/v1/chat/completions", _nested(CHAT, 60), HEADERS),
    ("/v1/messages", _nested(CHAT | {"max_tokens": 8}, 600), HEADERS),
    (
        "/v1/chat/completions",
        CHAT
        | {
            "messages": [
                {"role": "user", "content": "Hi"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "f", "arguments": "[" * 3000 + "]" * 3000},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c", "content": "ok"},
            ]
        },
        HEADERS,
    ),
    ("/v1/chat/completions", CHAT | {"stop": ["x"] * 100_000}, HEADERS),
    ("/v1/messages", CHAT | {"max_tokens": 8, "messages": CHAT["messages"] * 20_000}, HEADERS),
    ("/v1/chat/completions", b"\xff\xfe not json", HEADERS),
    ("/v1/chat/completions", CHAT, {**HEADERS, "X-Data-Residency": "eu, us"}),
    ("/v1/chat/completions", CHAT, {**HEADERS, "X-Privacy-Tags": "pii, pci, ,zzz"}),
]


async def hostile_clients(http: httpx.AsyncClient, url: str, rounds: int) -> Family:
    family = Family("hostile clients (deep JSON, huge arrays, bad headers)")
    jobs = [
        (
            lambda path=path, body=body, headers=headers: send(
                http, url + path, family, body, headers
            )
        )
        for path, body, headers in HOSTILE_CLIENTS * rounds
    ]
    await run_at_once(jobs, 8)
    return family


async def slowloris(port: int, connections: int, every_s: float) -> tuple[int, int, float]:
    """(connections opened, still open at the end, the longest any stayed open)."""
    opened: list[float] = []
    longest = 0.0
    still_open = 0

    async def one() -> None:
        nonlocal longest, still_open
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return
        start = time.monotonic()
        opened.append(start)
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
        try:
            for n in range(30):
                writer.write(b"X-Slow-%d: 1\r\n" % n)
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    if await asyncio.wait_for(reader.read(), every_s) or reader.at_eof():
                        break
            else:
                still_open += 1
        except ConnectionError:
            pass
        longest = max(longest, time.monotonic() - start)
        writer.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    return len(opened), still_open, longest


async def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        workdir = Path(tmp)
        async with (
            HostileProvider("openai", name="hostile-openai") as h_openai,
            HostileProvider("anthropic", name="hostile-anthropic") as h_anthropic,
            HostileProvider("gemini", name="hostile-gemini") as h_gemini,
            FakeProvider("openai", name="good", reply="fine") as good,
        ):
            hostiles: dict[Protocol, HostileProvider] = {
                "openai": h_openai,
                "anthropic": h_anthropic,
                "gemini": h_gemini,
            }
            specs = [
                ProviderSpec(f"hostile-{p}", h, attributes=EU, priority=n)  # type: ignore[arg-type]
                for n, (p, h) in enumerate(hostiles.items())
            ]
            settings = build_settings(
                workdir,
                [*specs, ProviderSpec("good", good, attributes=EU, priority=9)],
                routing={
                    "deadline_s": args.deadline,
                    "attempts_per_provider": 1,
                    "circuit_failure_threshold": 1_000_000,
                    **(
                        {"max_buffered_answer_bytes": args.budget_mib * 1024 * 1024}
                        if args.budget_mib
                        else {}
                    ),
                },
                logging={"level": "warning"},
            )
            sidecar = SidecarProcess(settings, workdir, {"TEST_PROVIDER_KEY": API_KEY})
            await sidecar.start()
            families: list[Family] = []
            try:
                limits = httpx.Limits(max_connections=32)
                async with httpx.AsyncClient(timeout=120, limits=limits) as http:
                    for other in (h_anthropic, h_gemini):
                        other.always(raw(b"HTTP/1.1 503 Unavailable\r\ncontent-length: 0\r\n\r\n"))
                    idle = peak_rss_mib(sidecar.pid)
                    families.append(await large_answers(http, sidecar.url, h_openai))
                    large_peak = peak_rss_mib(sidecar.pid)
                    if not args.only_large:
                        families.append(
                            await hostile_answers(http, sidecar.url, hostiles, args.rounds)
                        )
                        families.append(await endless_streams(http, sidecar.url, h_openai, 32))
                        for hostile in hostiles.values():
                            hostile.always(
                                raw(b"HTTP/1.1 503 Unavailable\r\ncontent-length: 0\r\n\r\n")
                            )
                        families.append(await hostile_clients(http, sidecar.url, args.rounds))
                opened, still_open, longest = (
                    (0, 0, 0.0)
                    if args.only_large
                    else await slowloris(sidecar.port, args.slowloris, 5)
                )
                peak = peak_rss_mib(sidecar.pid)
                alive = sidecar.process is not None and sidecar.process.poll() is None
                sidecar.stop()
            finally:
                sidecar.kill()  # only if stop() was not reached
            verified = sidecar.verify().returncode == 0
            recorded = {
                r.event["request_id"]
                for _, r in iter_records(settings.audit.dir)
                if r.kind == "request"
            }
    print(f"{'family':56} {'tried':>6} {'5xx':>14} {'500s':>5} {'unrecorded':>10}")
    failed = not alive or not verified
    for family in families:
        unrecorded = len([i for i in family.request_ids if i not in recorded])
        fives = {s: n for s, n in sorted(family.statuses.items()) if s >= 500}
        print(
            f"{family.name:56} {family.tried:>6} {fives or '-'!s:>14} "
            f"{family.statuses[500]:>5} {unrecorded:>10}"
            + (f"  transport errors {family.transport_errors}" if family.transport_errors else "")
        )
        print(f"    statuses: {dict(sorted(family.statuses.items()))}")
        for message, times in family.server_errors.items():
            print(f"    {times} x {message}")
        failed |= family.statuses[500] > 0 or unrecorded > 0
    print(
        f"slowloris: {opened} connections, still open after 30 lines: {still_open}, "
        f"longest open {longest:.1f} s (server.header_timeout_s 10)"
    )
    print(
        f"peak RSS (sidecar + audit writer, VmHWM): started {idle:.0f} MiB, after large answers "
        f"{large_peak:.0f} MiB, overall {peak:.0f} MiB of {CONTAINER_LIMIT_MIB} MiB"
    )
    print(f"sidecar alive throughout: {alive}; audit verify: {'ok' if verified else 'FAILED'}")
    failed |= still_open > 0 or peak >= CONTAINER_LIMIT_MIB
    return 1 if failed else 0


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="of the hostile answer families")
    parser.add_argument("--slowloris", type=int, default=3000, help="trickling connections")
    parser.add_argument("--deadline", type=float, default=5, help="routing.deadline_s")
    parser.add_argument(
        "--budget-mib", type=int, default=0, help="routing.max_buffered_answer_bytes (0: default)"
    )
    parser.add_argument("--only-large", action="store_true", help="the large answers alone")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))

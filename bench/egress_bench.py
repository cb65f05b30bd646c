"""The upstream client's CPU per request: direct, through an HTTP proxy, and against aiohttp.

Run: `.venv/bin/python bench/egress_bench.py [--requests 20000] [--rounds 5]`. Starts
nginx (a canned OpenAI answer on an http and an https port, a test CA) and squid on
loopback, then sends `--requests` POSTs at 16 in flight per case, cases interleaved
over `--rounds` rounds, and prints the median CPU µs per request of this process
(nginx and squid run in their own) and requests per second. `before` is the client as
of the commit named by --before, loaded from git, so the direct path is compared with
itself before the egress change.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType

import aiohttp
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the servers are in tests/

from policy_engine.routing import Egress, EgressTable, NoProxy, Proxy, tls_context
from policy_engine.routing._http1 import Http1Pool
from tests.egress._servers import PROVIDER_HOST, Squid, wait_for
from tests.pki import CertificateAuthority
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
BODY = b'{"model":"m","messages":[{"role":"user","content":"hello there"}]}'
ANSWER = (
    '{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
    '"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],'
    '"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}'
)
HEADERS = {"authorization": "Bearer k", "content-type": "application/json"}
IN_FLIGHT = 16

Send = Callable[[], Awaitable[None]]


def start_nginx(work: Path, cert: Path, key: Path) -> tuple[subprocess.Popen[bytes], int, int]:
    http_port, https_port = free_port(), free_port()
    location = f"location / {{ default_type application/json; return 200 '{ANSWER}'; }}"
    (work / "nginx.conf").write_text(
        f"""
daemon off;
master_process off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    server {{ listen 127.0.0.1:{http_port}; {location} }}
    server {{
        listen 127.0.0.1:{https_port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        {location}
    }}
}}
"""
    )
    log = work / "error.log"
    process = subprocess.Popen(
        ["nginx", "-p", str(work), "-c", str(work / "nginx.conf"), "-e", str(log)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def listening() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", https_port)) == 0

    wait_for(listening, "nginx", process, log)
    return process, http_port, https_port


def client_before(commit: str) -> ModuleType:
    """The client module as it was at `commit` (it imported nothing of ours then)."""
    source = subprocess.run(
        ["git", "show", f"{commit}:policy_engine/routing/_http1.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "http1_before.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("http1_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["http1_before"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def ours(pool: Http1Pool, url: str, provider: str | None = "p") -> Send:
    async def send() -> None:
        response = await pool.request("POST", url, HEADERS, BODY, 10, provider)
        while await response.read(10):
            pass
        response.release()

    return send


def before(pool: object, url: str) -> Send:
    async def send() -> None:
        response = await pool.request("POST", url, HEADERS, BODY, 10)  # type: ignore[attr-defined]
        while await response.read(10):
            pass
        response.release()

    return send


def through_aiohttp(session: aiohttp.ClientSession, url: str, proxy: str | None) -> Send:
    async def send() -> None:
        async with session.post(url, data=BODY, headers=HEADERS, proxy=proxy) as response:
            await response.read()

    return send


async def measure(send: Send, requests: int) -> tuple[float, float]:
    """(CPU µs per request, requests per second) at IN_FLIGHT concurrent senders."""
    for _ in range(200):
        await send()  # connections opened, caches warm
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await send()

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / requests * 1e6, requests / wall


async def run(
    args: argparse.Namespace, http_port: int, https_port: int, squid: Squid, bundle: Path
) -> None:
    tls = tls_context(bundle)
    proxy = Proxy("127.0.0.1", squid.open_port)
    proxy_url = f"http://127.0.0.1:{squid.open_port}"
    http_url = f"http://127.0.0.1:{http_port}/v1/chat/completions"
    https_url = f"https://localhost:{https_port}/v1/chat/completions"
    named_http = f"http://{PROVIDER_HOST}:{http_port}/v1/chat/completions"
    named_https = f"https://{PROVIDER_HOST}:{https_port}/v1/chat/completions"
    old = client_before(args.before)
    configured = EgressTable(
        Egress(tls), {"p": Egress(tls, proxy, proxy, NoProxy.parse(["127.0.0.1", "localhost"]))}
    )
    pools = {
        "before": old.Http1Pool(connect_timeout_s=5),
        "direct": Http1Pool(
            connect_timeout_s=5, egress=EgressTable(Egress(tls), {"p": Egress(tls)})
        ),
        "bypassed": Http1Pool(connect_timeout_s=5, egress=configured),
        "proxied": Http1Pool(
            connect_timeout_s=5, egress=EgressTable(Egress(tls), {"p": Egress(tls, proxy, proxy)})
        ),
    }
    connector = aiohttp.TCPConnector(limit=0, ssl=tls)
    session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
    cases: dict[str, Send] = {
        "http, direct: before the egress change": before(pools["before"], http_url),
        "http, direct": ours(pools["direct"], http_url),
        "http, direct (NO_PROXY names it)": ours(pools["bypassed"], http_url),
        "http, through squid (absolute form)": ours(pools["proxied"], named_http),
        "http, direct: aiohttp": through_aiohttp(session, http_url, None),
        "http, through squid: aiohttp": through_aiohttp(session, named_http, proxy_url),
        "https, direct": ours(pools["direct"], https_url),
        "https, through squid (CONNECT)": ours(pools["proxied"], named_https),
        "https, through squid: aiohttp": through_aiohttp(session, named_https, proxy_url),
    }
    if args.before_https:
        old_tls = old.Http1Pool(connect_timeout_s=5, ssl_context=tls)
        cases["https, direct: before the egress change"] = before(old_tls, https_url)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for round_ in range(args.rounds):
        for name, send in cases.items():
            results[name].append(await measure(send, args.requests))
        print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
    await session.close()
    rounds = f"median of {args.rounds} rounds"
    print(f"\n{args.requests} requests per case, {IN_FLIGHT} in flight, {rounds}\n")
    print("| case | CPU µs / request | req/s |")
    print("|---|---:|---:|")
    for name, values in results.items():
        cpu = statistics.median(v[0] for v in values)
        rate = statistics.median(v[1] for v in values)
        print(f"| {name} | {cpu:.1f} | {rate:,.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--before", default="8efec4b", help="the commit to compare the direct path with"
    )
    parser.add_argument(
        "--before-https", action="store_true", help="also the old client over https"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="egress-bench-"))
    ca = CertificateAuthority(work, "bench")
    site = ca.issue("site", [PROVIDER_HOST, "localhost"])
    nginx, http_port, https_port = start_nginx(work, site.cert, site.key)
    squid = Squid()
    try:
        squid.start()
        uvloop.run(run(args, http_port, https_port, squid, ca.bundle))
    finally:
        squid.stop()
        nginx.terminate()
        nginx.wait(10)


if __name__ == "__main__":
    main()

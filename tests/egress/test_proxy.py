"""The sidecar behind a real HTTP proxy (Debian's squid): requests reach providers only
through it, NO_PROXY exempts loopback, proxy credentials open the tunnel and stay out
of every log, and a proxy that refuses or is down is a connection failure the request
falls back from.

`provider.egress.test` resolves only in squid's own hosts file, so an answer from that
name went through squid; squid's access log shows how (CONNECT or an absolute URL).
"""

from __future__ import annotations

import base64
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.egress._servers import (
    PROVIDER_HOST,
    PROXY_PASSWORD,
    PROXY_USER,
    REFUSED_HOST,
    Nginx,
    Squid,
)
from tests.egress._support import (
    Pki,
    Sidecar,
    answered_by_fronted,
    fell_back_from_a_connection_failure,
    trusting,
    via_proxy,
)
from tests.ports import free_port

SECRETS = (
    PROXY_PASSWORD,
    base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode(),
)


def authenticating_proxy(squid: Squid, credentials: dict[str, str]) -> dict[str, Any]:
    """A provider's setting to go through squid's port that wants credentials."""
    return {"proxy": {"url": f"http://127.0.0.1:{squid.auth_port}", **credentials}}


def test_the_providers_name_resolves_only_inside_the_proxy() -> None:
    # The premise of every test here: the sidecar cannot reach this name by itself.
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo(PROVIDER_HOST, 443)


async def test_an_https_provider_is_reached_through_the_proxys_tunnel(
    sidecar: Sidecar, squid: Squid, nginx: Nginx, pki: Pki
) -> None:
    run = await sidecar.run(
        nginx.url(host=PROVIDER_HOST),
        provider=trusting(pki.bundle),
        routing=via_proxy(squid.open_port),
    )
    assert [answer.status for answer in run.answers] == [200, 200]
    assert run.outcome == answered_by_fronted()
    squid.wait_for_line("CONNECT", f"{PROVIDER_HOST}:{nginx.ports['good']}")


async def test_https_proxy_from_the_environment_carries_the_requests(
    sidecar: Sidecar, monkeypatch: pytest.MonkeyPatch, squid: Squid, nginx: Nginx, pki: Pki
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{squid.open_port}")
    run = await sidecar.run(
        nginx.url(host=PROVIDER_HOST), provider=trusting(pki.bundle), streams=(False,)
    )
    assert run.routed == ["fronted"]
    assert len(run.fronted) == 1
    squid.wait_for_line("CONNECT", f"{PROVIDER_HOST}:{nginx.ports['good']}")


async def test_no_proxy_sends_loopback_providers_past_the_proxy(
    sidecar: Sidecar, monkeypatch: pytest.MonkeyPatch, squid: Squid, nginx: Nginx, pki: Pki
) -> None:
    proxy = f"http://127.0.0.1:{squid.open_port}"
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    seen_before = len(squid.log_lines())
    run = await sidecar.run(nginx.url(), provider=trusting(pki.bundle), streams=(False,))
    assert run.routed == ["fronted"]
    # A request of our own through squid, after the sidecar closed its connections: once
    # its line is in the log, any tunnel the sidecar had opened would be there before it.
    marker = f"http://{PROVIDER_HOST}:{free_port()}/control"
    async with httpx.AsyncClient(proxy=proxy, trust_env=False) as http:
        await http.get(marker)
    squid.wait_for_line(marker)
    new = squid.log_lines()[seen_before:]
    assert not [line for line in new if f":{nginx.ports['good']}" in line]


async def test_an_http_provider_is_asked_through_the_proxy_by_absolute_url(
    sidecar: Sidecar, squid: Squid, upstream_port: int
) -> None:
    run = await sidecar.run(
        f"http://{PROVIDER_HOST}:{upstream_port}/v1", routing=via_proxy(squid.open_port)
    )
    assert run.routed == ["fronted", "fronted"]
    squid.wait_for_line("POST", f"http://{PROVIDER_HOST}:{upstream_port}/v1/chat/completions")


async def test_proxy_credentials_open_the_tunnel_and_appear_in_no_log_or_record(
    sidecar: Sidecar, tmp_path: Path, squid: Squid, nginx: Nginx, pki: Pki
) -> None:
    secret = tmp_path / "proxy-credentials"
    secret.write_text(f"{PROXY_USER}:{PROXY_PASSWORD}\n")
    run = await sidecar.run(
        nginx.url(host=PROVIDER_HOST),
        provider={
            **trusting(pki.bundle),
            **authenticating_proxy(squid, {"credentials_file": str(secret)}),
        },
    )
    assert run.routed == ["fronted", "fronted"]
    squid.wait_for_line("CONNECT", f"{PROVIDER_HOST}:{nginx.ports['good']}", PROXY_USER)
    assert all("proxy-authorization" not in call.headers for call in run.fronted)
    [startup] = [e for e in run.logs if e["event"] == "egress" and e["provider"] == "fronted"]
    assert startup["route"] == f"proxy 127.0.0.1:{squid.auth_port}; CAs: {pki.bundle}"
    for value in SECRETS:
        assert value not in repr(run.logs)
        assert value.encode() not in run.audit_bytes


async def test_wrong_proxy_credentials_are_a_connection_failure_that_falls_back(
    sidecar: Sidecar, monkeypatch: pytest.MonkeyPatch, squid: Squid, nginx: Nginx, pki: Pki
) -> None:
    monkeypatch.setenv("TEST_PROXY_CREDENTIALS", f"{PROXY_USER}:not-the-password")
    run = await sidecar.run(
        nginx.url(host=PROVIDER_HOST),
        provider={
            **trusting(pki.bundle),
            **authenticating_proxy(squid, {"credentials_env": "TEST_PROXY_CREDENTIALS"}),
        },
    )
    assert run.outcome == fell_back_from_a_connection_failure()
    [reason, *_] = run.connect_failures()
    assert f"the egress proxy 127.0.0.1:{squid.auth_port} wants credentials" in reason
    assert "not-the-password" not in repr(run.logs)


async def test_a_proxy_that_refuses_the_tunnel_is_a_connection_failure_that_falls_back(
    sidecar: Sidecar, squid: Squid, nginx: Nginx, pki: Pki
) -> None:
    run = await sidecar.run(
        nginx.url(host=REFUSED_HOST),
        provider=trusting(pki.bundle),
        routing=via_proxy(squid.open_port),
    )
    assert run.outcome == fell_back_from_a_connection_failure()
    [reason, *_] = run.connect_failures()
    assert reason == (
        f"the egress proxy 127.0.0.1:{squid.open_port} refused the tunnel to "
        f"{REFUSED_HOST}:{nginx.ports['good']} (403)"
    )


async def test_a_proxy_that_is_down_is_a_connection_failure_that_falls_back(
    sidecar: Sidecar, nginx: Nginx, pki: Pki
) -> None:
    dead = free_port()
    run = await sidecar.run(
        nginx.url(host=PROVIDER_HOST), provider=trusting(pki.bundle), routing=via_proxy(dead)
    )
    assert run.outcome == fell_back_from_a_connection_failure()
    [reason, *_] = run.connect_failures()
    assert reason.startswith(f"the egress proxy 127.0.0.1:{dead} could not be reached")

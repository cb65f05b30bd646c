"""The sidecar against a real TLS upstream (Debian's nginx with certificates from a test
CA): a CA bundle setting makes it trusted; a certificate that fails verification (an
unknown CA, another host's name, expired) is a connection failure named in the log,
never a silent downgrade, and the request falls back without one byte sent to it."""

from __future__ import annotations

import pytest

from tests.egress._servers import PROVIDER_HOST, Nginx, Squid
from tests.egress._support import (
    Pki,
    Sidecar,
    answered_by_fronted,
    fell_back_from_a_connection_failure,
    trusting,
    via_proxy,
)


async def test_a_provider_whose_certificate_chains_to_its_ca_bundle_answers(
    sidecar: Sidecar, nginx: Nginx, pki: Pki
) -> None:
    run = await sidecar.run(nginx.url(), provider=trusting(pki.bundle))
    assert [answer.status for answer in run.answers] == [200, 200]
    assert run.outcome == answered_by_fronted()
    assert run.connect_failures() == []


async def test_the_global_ca_bundle_serves_providers_without_their_own(
    sidecar: Sidecar, nginx: Nginx, pki: Pki
) -> None:
    run = await sidecar.run(
        nginx.url(host="127.0.0.1"), routing=trusting(pki.bundle), streams=(True,)
    )
    assert run.routed == ["fronted"]


# site of nginx, the provider's own CA bundle (None: the system store), the reason logged
FAILURES = {
    "unknown-ca-system-store": ("good", None, "unable to get local issuer certificate"),
    "unknown-ca-other-bundle": ("good", "other", "unable to get local issuer certificate"),
    "wrong-host-name": ("other-host", "trusted", "Hostname mismatch"),
    "expired": ("expired", "trusted", "certificate has expired"),
}


@pytest.mark.parametrize("name", list(FAILURES))
async def test_a_certificate_that_fails_verification_falls_back_with_the_reason_logged(
    sidecar: Sidecar, nginx: Nginx, pki: Pki, name: str
) -> None:
    site, bundle, reason = FAILURES[name]
    bundles = {"trusted": pki.bundle, "other": pki.other_bundle}
    run = await sidecar.run(nginx.url(site), provider=trusting(bundles[bundle]) if bundle else {})
    # fronted got no call: not one request got past the handshake
    assert run.outcome == fell_back_from_a_connection_failure()
    failures = run.connect_failures()
    assert len(failures) == 2
    assert all(
        failure.startswith("the certificate of localhost failed verification: ")
        and reason in failure
        for failure in failures
    )
    logged = [e for e in run.logs if e["event"] == "upstream_connect_failed"]
    assert {e["provider"] for e in logged} == {"fronted"}


async def test_a_certificate_failure_through_the_proxys_tunnel_is_named_too(
    sidecar: Sidecar, squid: Squid, nginx: Nginx, pki: Pki
) -> None:
    run = await sidecar.run(
        nginx.url("expired", PROVIDER_HOST),
        provider=trusting(pki.bundle),
        routing=via_proxy(squid.open_port),
        streams=(True,),
    )
    assert run.routed == ["fallback"]
    assert run.fronted == []
    assert run.connect_failures() == [
        f"the certificate of {PROVIDER_HOST} failed verification: certificate has expired"
    ]

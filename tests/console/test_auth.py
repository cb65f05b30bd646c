"""Behind the sidecar's caller tokens: nothing without one, a session after signing in, and
a token bound to tenants sees only those tenants' records."""

from __future__ import annotations

import argparse

import httpx
import pytest

from policy_engine._errors import ConfigError
from policy_engine.cli._console import build
from tests.console.conftest import AUDITOR_TOKEN, GLOBEX_TOKEN, PROPOSAL, ServedConsole


def test_the_api_refuses_a_caller_without_a_token(guarded: ServedConsole) -> None:
    response = httpx.get(guarded.url + "/api/decisions", timeout=60)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_the_api_refuses_a_wrong_token(guarded: ServedConsole) -> None:
    response = httpx.get(
        guarded.url + "/api/decisions",
        headers={"Authorization": "Bearer not-the-token"},
        timeout=60,
    )
    assert response.status_code == 401


def test_a_page_sends_a_browser_to_sign_in_and_back(guarded: ServedConsole) -> None:
    with httpx.Client(base_url=guarded.url, timeout=60) as browser:
        first = browser.get("/checkpoints")
        assert first.status_code == 303
        assert first.headers["location"] == "/login?next=%2Fcheckpoints"
        signed = browser.post("/login", data={"token": AUDITOR_TOKEN, "next": "/checkpoints"})
        assert signed.status_code == 303 and signed.headers["location"] == "/checkpoints"
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert AUDITOR_TOKEN not in signed.headers["set-cookie"]
        assert browser.get("/checkpoints").status_code == 200
        browser.post("/logout")
        assert browser.get("/checkpoints").status_code == 303


def test_a_wrong_token_at_sign_in_says_so(guarded: ServedConsole) -> None:
    with httpx.Client(base_url=guarded.url, follow_redirects=True, timeout=60) as browser:
        page = browser.post("/login", data={"token": "guess", "next": "/"})
    assert page.status_code == 200 and "That token is not valid." in page.text


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil"])
def test_sign_in_never_sends_the_browser_to_another_host(
    guarded: ServedConsole, target: str
) -> None:
    response = httpx.post(
        guarded.url + "/login", data={"token": AUDITOR_TOKEN, "next": target}, timeout=60
    )
    assert response.headers["location"] == "/"


def test_a_token_bound_to_a_tenant_sees_only_its_records(guarded: ServedConsole) -> None:
    headers = {"Authorization": f"Bearer {GLOBEX_TOKEN}"}
    rows = httpx.get(guarded.url + "/api/decisions", headers=headers, timeout=60).json()["rows"]
    assert rows and {row["tenant"] for row in rows} == {"globex"}
    other = next(s for s in guarded.log.sent if s.tenant == "acme-eu")
    for path in (f"/api/requests/{other.request_id}", f"/api/requests/{other.request_id}/proof"):
        assert httpx.get(guarded.url + path, headers=headers, timeout=60).status_code == 404
    facets = httpx.get(guarded.url + "/api/facets", headers=headers, timeout=60).json()
    assert facets["tenants"] == ["globex"]
    impact = httpx.get(guarded.url + f"/api/impact/{PROPOSAL}", headers=headers, timeout=60)
    assert {g["tenant"] for g in impact.json()["groups"]} == {"globex"}
    matrix = httpx.get(guarded.url + "/api/resilience", headers=headers, timeout=60).json()
    assert {row["tenant"] for row in matrix["rows"]} == {"globex"}


def test_the_console_will_not_listen_beyond_loopback_without_tokens(
    guarded: ServedConsole,
) -> None:
    args = argparse.Namespace(
        config=guarded.log.config,
        host="0.0.0.0",
        port=0,
        public_key=[],
        index=":memory:",
        proposed=[],
        proposed_catalog=None,
    )
    with pytest.raises(ConfigError, match=r"needs server\.auth\.tokens"):
        build(args)

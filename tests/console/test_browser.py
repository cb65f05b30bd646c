"""The console in a real browser: Debian's Chromium driven by Playwright, no script on the
pages and nothing fetched from outside loopback. The walk: list, filter, one request,
its proof downloaded and checked, the resilience matrix, the impact report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Request, sync_playwright

from policy_engine.audit import (
    PUBLIC_KEY_NAME,
    InclusionBundle,
    check_inclusion_bundle,
    load_public_key,
)
from tests.console.conftest import PROPOSAL, ServedConsole

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and quiet: no update checks, sync or first-run traffic from the browser.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, served: ServedConsole) -> Iterator[Page]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    # The first resilience page evaluates every combination: on a loaded machine that can
    # take longer than Playwright's default 30 s.
    page.set_default_timeout(180_000)
    outside: list[str] = []

    def off_loopback(request: Request) -> None:
        if not request.url.startswith(served.url):
            outside.append(request.url)

    page.on("request", off_loopback)
    yield page
    context.close()
    assert outside == [], "the page fetched something from outside the console"


def test_an_auditor_walks_from_the_list_to_a_proof_the_matrix_and_the_impact(
    page: Page, served: ServedConsole, tmp_path: Path
) -> None:
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )

    # The list: every outcome record, newest first, with its charts.
    page.goto(served.url + "/")
    sent = served.log.sent
    assert page.locator("#count").inner_text() == f"{len(sent) + 1} matching records"
    assert page.locator("svg.chart rect.s-answered").count() > 0
    assert page.locator("svg.chart rect.s-fallback").count() > 0

    # Filter: medibridge-us's requests only.
    page.select_option("#f-tenant", "medibridge-us")
    page.click("#apply")
    medibridge = [s for s in sent if s.tenant == "medibridge-us"]
    assert page.locator("#count").inner_text() == f"{len(medibridge)} matching records"
    rows = page.locator("#decisions tbody tr")
    assert rows.count() == len(medibridge)
    assert set(rows.locator("td:nth-child(3)").all_inner_texts()) == {"medibridge-us"}

    # One request: its record, decision, attempts and verify status.
    newest = medibridge[-1]
    page.click(f"a[href='/requests/{newest.request_id}']")
    assert page.locator("#request-id").inner_text() == newest.request_id
    assert page.locator("#outcome").inner_text() == "answered"
    assert "residency: tenant requires us" in page.locator("#denials").inner_text()
    assert "azure-openai-us" in page.locator("#attempts").inner_text()
    assert "EMAIL_ADDRESS" in page.locator("#redactions").inner_text()
    verify = page.locator("#verify").inner_text()
    assert "signature: Ed25519" in verify and "FAILED" not in verify

    # Its inclusion proof, downloaded and checked as `audit check-proof` checks it.
    with page.expect_download() as download:
        page.click("#proof")
    saved = tmp_path / "proof.json"
    download.value.save_as(saved)
    bundle = InclusionBundle.from_json(json.loads(saved.read_text()))
    key = load_public_key(served.log.settings.audit.signing_key_file.parent / PUBLIC_KEY_NAME)
    record = check_inclusion_bundle(bundle, [key])
    assert record.event["request_id"] == newest.request_id

    # The resilience matrix: medibridge-us with pci has no provider, with phi two domains.
    page.click("nav >> text=Resilience")
    matrix = page.locator("#matrix")
    header = matrix.locator("thead th").all_inner_texts()
    medibridge_row = matrix.locator("tbody tr", has=page.locator("th", has_text="medibridge-us"))
    cells = medibridge_row.locator("td")
    status = {
        header[i + 1]: cells.nth(i).get_attribute("data-status") for i in range(cells.count())
    }
    assert status["pci"] == "none" and status["phi"] == "ok"
    assert matrix.locator("td.spof").count() > 0

    # The impact of offboarding azure-openai-us, from the policies page.
    page.click("nav >> text=Policies")
    assert page.locator("#revisions tbody tr").count() == 1
    page.click(f"#proposals a:has-text('{PROPOSAL}')")
    assert page.locator("#newly-denied").inner_text() == "1"
    changed = {s.request_id for s in sent if s.tenant in ("medibridge-us", "globex", "sandbox")}
    impact_rows = page.locator("#impact tbody tr")
    assert impact_rows.count() > 0
    assert "removed azure-openai-us" in page.locator("#impact").inner_text()
    links = page.locator("#impact a").evaluate_all("(links) => links.map(a => a.href)")
    assert {link.rsplit("/", 1)[1] for link in links} <= changed
    assert errors == []

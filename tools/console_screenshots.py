"""The console screenshots in docs/console/, taken from a demo log in Debian's Chromium.

    .venv/bin/python tools/console_screenshots.py [--out docs/console]

Writes a demo log through a served sidecar and its fakes (as the browser test does), serves
the console over it with a proposal that offboards azure-openai-us, and saves one PNG per
main page (made smaller by pngquant, Debian's `pngquant`, when it is installed).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from policy_engine._auth import Authenticator  # noqa: E402
from policy_engine.console import Sessions  # noqa: E402
from tests.console.conftest import PROPOSAL, build_console, serving  # noqa: E402
from tests.console.test_browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.impact._demo_log import drop_provider_policy, write_demo_log  # noqa: E402

PAGES = {
    "decisions": "/?tenant=acme-eu",
    "request": None,  # the newest acme-eu request, found on the list
    "checkpoints": "/checkpoints",
    "resilience": "/resilience",
    "impact": f"/impact/{PROPOSAL}",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "console")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        with pytest.MonkeyPatch.context() as monkeypatch:
            log = asyncio.run(write_demo_log(Path(folder), monkeypatch))
        drop_provider_policy(log.settings, log.config.parent / PROPOSAL)
        console = build_console(log)
        with serving(console, Sessions(Authenticator([]))) as url, sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1200, "height": 760})
            for name, path in PAGES.items():
                if path is None:
                    page.goto(url + "/?tenant=medibridge-us")
                    path = page.locator("#decisions tbody a").first.get_attribute("href") or "/"
                page.goto(url + path)
                console.verifier.wait(30)
                page.goto(url + path)
                shot = out / f"{name}.png"
                page.screenshot(path=str(shot))
                if shutil.which("pngquant"):
                    subprocess.run(
                        [
                            "pngquant",
                            "--force",
                            "--skip-if-larger",
                            "--quality",
                            "70-95",
                            "--output",
                            str(shot),
                            str(shot),
                        ],
                        check=False,
                    )
                print(shot)
            browser.close()


if __name__ == "__main__":
    main()

"""A provider that echoes our key in its error text: no form of it, whole or in part,
reaches the client.

Provider error text goes back to the client (it is about the client's own request), cut
to 500 characters. The key is scrubbed before that cut, in every form an echo takes:
plain, in any case, spaced out, JSON-escaped, URL-encoded, in hex and base64, and as a
prefix where the text ends (a key at character 490 used to arrive as `Bearer sk-vllm-se`).
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest

from policy_engine.routing._scrub import REDACTED, KeyScrubber
from tests.fakes._hostile import HostileProvider, body_answer, echo_key
from tests.security._support import KEY_ENV, PROVIDER_KEY, KeyedSpec
from tests.sidecar import build_settings, chat_once

KEY = PROVIDER_KEY
FORMS: dict[str, Callable[[str], str]] = {
    "plain": lambda k: k,
    "spaced": lambda k: " ".join(k),
    "wrapped": lambda k: k[:10] + "\n" + k[10:],
    "json-slash": lambda k: k.replace("-", "\\/"),
    "json-unicode": lambda k: "".join(f"\\u{ord(c):04x}" for c in k),
    "json-unicode-upper": lambda k: "".join(f"\\u{ord(c):04X}" for c in k),
    "json-double-escaped": lambda k: "".join(f"\\\\u{ord(c):04x}" for c in k),
    "url": lambda k: urllib.parse.quote(k, safe=""),
    "url-every-byte": lambda k: "".join(f"%{ord(c):02X}" for c in k),
    "html-entities": lambda k: "".join(f"&#{ord(c)};" for c in k),
    "base64": lambda k: base64.b64encode(f"Bearer {k}".encode()).decode(),
    "base64-url": lambda k: base64.urlsafe_b64encode(f"x{k}yz".encode()).decode(),
    "a-run-of-its-end": lambda k: "..." + k[-12:],
    "upper-case": str.upper,
    "hex": lambda k: k.encode().hex(),
    "hex-upper": lambda k: k.encode().hex().upper(),
}


def _base64_decodings(text: str) -> list[str]:
    """Every run of base64 characters in `text`, decoded at each alignment."""
    out = []
    for run in re.findall(r"[A-Za-z0-9+/_-]{12,}", text):
        standard = run.translate(str.maketrans("-_", "+/"))
        for start in range(4):
            piece = standard[start:]
            with contextlib.suppress(ValueError):
                out.append(base64.b64decode(piece[: len(piece) // 4 * 4]).decode("latin-1"))
    return out


def leaks(text: str) -> list[str]:
    """Runs of eight or more of the key's characters in `text`, once every form above
    is decoded back (empty: no trace of the key)."""
    decoded = text.replace("\\\\", "\\").replace("\\/", "/")
    with contextlib.suppress(ValueError):
        decoded = json.loads(f'"{decoded}"')
    decoded = html.unescape(urllib.parse.unquote(decoded))
    hexes = [
        bytes.fromhex(run).decode("latin-1") for run in re.findall(r"(?:[0-9a-fA-F]{2}){8,}", text)
    ]
    haystacks = ["".join(h.split()).lower() for h in [decoded, *_base64_decodings(text), *hexes]]
    return [
        KEY[i : i + 8]
        for i in range(len(KEY) - 7)
        if any(KEY[i : i + 8].lower() in haystack for haystack in haystacks)
    ]


def test_the_leak_check_finds_every_form() -> None:
    for form, encode in FORMS.items():
        assert leaks(f"sent {encode(KEY)}!"), form


@pytest.mark.parametrize("form", list(FORMS))
def test_the_key_is_scrubbed_in_every_form(form: str) -> None:
    text = f"you sent Authorization: Bearer {FORMS[form](KEY)} (check it)"

    scrubbed = KeyScrubber([KEY]).scrub(text, 500)

    assert REDACTED in scrubbed
    assert leaks(scrubbed) == []
    assert scrubbed.endswith("(check it)"), "the rest of the text is kept"


@pytest.mark.parametrize("at", [470, 485, 490, 495, 499])
def test_a_key_at_the_cut_leaves_no_prefix_of_itself(at: int) -> None:
    text = "x" * at + f" Bearer {KEY} and more"

    scrubbed = KeyScrubber([KEY]).scrub(text, 500)

    assert len(scrubbed) <= 500
    assert KEY[:3] not in scrubbed[at:]


@pytest.mark.parametrize("size", [4, 7, 12])
def test_a_prefix_of_the_key_the_provider_cut_itself_is_removed(size: int) -> None:
    scrubbed = KeyScrubber([KEY]).scrub(f"header was: Bearer {KEY[:size]}", 500)
    assert scrubbed.startswith("header was: Bearer ")
    assert KEY[:4] not in scrubbed


def test_text_without_a_key_is_only_cut() -> None:
    text = "the model 'gpt-x' does not exist " * 30
    assert KeyScrubber([KEY]).scrub(text, 500) == text[:500]


def test_every_configured_key_is_scrubbed_from_every_providers_text() -> None:
    other = "AIzaSyNOT-A-REAL-KEY-0000-synthetic-42"
    scrubbed = KeyScrubber([KEY, other]).scrub(f"{other} / {KEY}", 500)
    assert scrubbed == f"{REDACTED} / {REDACTED}"


@pytest.mark.parametrize("form", ["plain", "json-unicode", "url", "base64", "spaced"])
@pytest.mark.parametrize("padding", [0, 470, 490], ids=["start", "near-cut", "at-cut"])
async def test_a_provider_echoing_our_key_never_shows_it_to_the_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: str, padding: int
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    async with HostileProvider("openai") as hostile:
        hostile.always(echo_key(400, lambda sent: "x" * padding + FORMS[form](sent)))
        settings = build_settings(tmp_path, [KeyedSpec("echo", hostile)])  # type: ignore[arg-type]
        body = {"model": "default", "messages": [{"role": "user", "content": "Hi"}]}
        response, _ = await chat_once(settings, monkeypatch, body, {"X-Tenant-ID": "sandbox"})

    assert hostile.received[0].headers["authorization"] == f"Bearer {KEY}"
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert message.startswith("invalid request; you sent: "), "the provider's words still reach"
    assert leaks(message) == []


async def test_a_key_in_a_plain_text_error_past_500_bytes_is_not_cut_in_half(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    async with HostileProvider("openai") as hostile:
        text = ("y" * 490 + f" Authorization: Bearer {KEY}").encode()
        hostile.always(body_answer(text, 422, content_type="text/plain"))
        settings = build_settings(tmp_path, [KeyedSpec("echo", hostile)])  # type: ignore[arg-type]
        body = {"model": "default", "messages": [{"role": "user", "content": "Hi"}]}
        response, _ = await chat_once(settings, monkeypatch, body, {"X-Tenant-ID": "sandbox"})

    assert response.status_code == 422
    assert leaks(response.json()["error"]["message"]) == []
    assert KEY[:4] not in response.text

"""Hostile records and requests: the console shows what is in the log as text, never as
markup; filters are values, never SQL; a damaged log is named, not fatal."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policy_engine._auth import Authenticator
from policy_engine._config import parse_config
from policy_engine.audit import PRIVATE_KEY_NAME, AuditLog, AuditSettings, write_key_pair
from policy_engine.console import Console, LogIndex, Sessions
from tests.console.conftest import serving

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(2)>'


def hostile_events() -> list[dict[str, Any]]:
    return [
        {  # markup in every text a page shows
            "request_id": "req-markup",
            "tenant": "acme-eu",
            "context": {"residency": "eu", "privacy_tags": [SCRIPT], "model": ATTRIBUTE},
            "policy": {
                "revision": "sha256:" + "ab" * 32,
                "allowed": [ATTRIBUTE],
                "denied": {"openai-us": [f"residency: {SCRIPT}"], ATTRIBUTE: ["tenant: x"]},
                "obligations": {"redact": {ATTRIBUTE: [SCRIPT]}},
            },
            "attempts": [{"provider": ATTRIBUTE, "outcome": SCRIPT, "status": 200}],
            "provider": ATTRIBUTE,
            "outcome": "answered",
            "status": 200,
            "redactions": {SCRIPT: 1},
        },
        {  # every field of the wrong type
            "request_id": "req-types",
            "tenant": ["not", "a", "string"],
            "context": [1, 2],
            "policy": {"denied": "nope", "obligations": 3, "allowed": "x"},
            "attempts": "abc",
            "provider": 7,
            "outcome": {"a": 1},
            "status": "200",
            "redactions": [],
        },
        {  # containers where scalars belong, and the other way round
            "request_id": "req-shapes",
            "tenant": "globex",
            "context": {"privacy_tags": "pii", "model": ["m"]},
            "policy": {"denied": {"p": "not a list"}, "revision": 5},
            "attempts": 5,
            "intent_seq": "3",
            "redactions": "many",
        },
        {  # a request id that would end a header line and add one
            "request_id": 'id"\r\nx-injected: yes',
            "tenant": "acme-eu",
            "outcome": "answered",
        },
    ]


async def write_log(directory: Path, keys: Path) -> None:
    log = await AuditLog.open(
        AuditSettings(dir=directory, signing_key_file=keys / PRIVATE_KEY_NAME)
    )
    try:
        for event in hostile_events():
            await log.submit(event, "request")
    finally:
        await log.close()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("hostile")
    write_key_pair(root / "keys", Ed25519PrivateKey.generate())
    asyncio.run(write_log(root / "audit", root / "keys"))
    settings = parse_config(
        {
            "audit": {
                "dir": str(root / "audit"),
                "signing_key_file": str(root / "keys" / PRIVATE_KEY_NAME),
            },
            "policy": {"policy_dir": str(Path(__file__).resolve().parents[2] / "policies")},
            "providers": [
                {
                    "id": "p",
                    "adapter": "openai",
                    "base_url": "http://127.0.0.1:9/v1",
                    "models": {"default": "m"},
                }
            ],
        }
    )
    console = Console(settings, [], LogIndex(settings.audit.dir))
    console.refresh_interval_s = 0.0
    with serving(console, Sessions(Authenticator([]))) as url:
        yield url, settings.audit.dir


def get(url: str, path: str, **params: str) -> httpx.Response:
    return httpx.get(url + path, params=params, timeout=60)


@pytest.mark.parametrize("path", ["/", "/requests/req-markup", "/policies", "/checkpoints"])
def test_markup_in_a_record_is_shown_as_text(hostile: tuple[str, Path], path: str) -> None:
    page = get(hostile[0], path)
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<img src=x" not in page.text


def test_markup_in_a_record_reaches_the_page_escaped(hostile: tuple[str, Path]) -> None:
    page = get(hostile[0], "/requests/req-markup").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in page


def test_a_record_of_the_wrong_types_is_listed_and_shown(hostile: tuple[str, Path]) -> None:
    rows = get(hostile[0], "/api/decisions").json()["rows"]
    assert {"req-markup", "req-types", "req-shapes"} <= {row["request_id"] for row in rows}
    for request_id in ("req-types", "req-shapes"):
        assert get(hostile[0], f"/requests/{request_id}").status_code == 200


@pytest.mark.parametrize(
    "value", ["' OR 1=1 --", "acme-eu' --", "x') UNION SELECT * FROM records --"]
)
def test_a_filter_value_is_a_value_never_sql(hostile: tuple[str, Path], value: str) -> None:
    for name in ("tenant", "provider", "outcome", "rule", "revision"):
        response = get(hostile[0], "/api/decisions", **{name: value})
        assert response.status_code == 200 and response.json()["total"] == 0


def test_an_unknown_request_id_with_markup_is_not_echoed(hostile: tuple[str, Path]) -> None:
    page = get(hostile[0], f"/requests/{SCRIPT}")
    assert page.status_code == 404 and "<script>alert" not in page.text


def test_a_proof_file_name_keeps_only_safe_characters(hostile: tuple[str, Path]) -> None:
    response = get(hostile[0], "/api/requests/id%22%0D%0Ax-injected:%20yes/proof")
    assert response.status_code == 200
    assert "x-injected" not in response.headers
    assert response.headers["content-disposition"] == (
        'attachment; filename="proof-idx-injectedyes.json"'
    )


def test_a_damaged_line_stops_the_index_and_every_page_says_where(
    hostile: tuple[str, Path],
) -> None:
    url, directory = hostile
    segment = sorted(directory.glob("segment-*.jsonl"))[-1]
    data = segment.read_bytes().rstrip(b"\0")
    segment.write_bytes(data + b"this is not a record\n")
    page = get(url, "/")
    assert page.status_code == 200
    assert "The log is damaged at segment-" in page.text
    assert get(url, "/api/decisions").json()["total"] == len(hostile_events())

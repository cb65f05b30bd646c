"""Conformance: every RFC 6962 proof vector and the C2SP signed-note vector."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from policy_engine.audit import (
    NoteError,
    ProofError,
    open_note,
    parse_signer_key,
    parse_verifier_key,
    sign_note,
    verify_consistency,
    verify_inclusion,
)
from tests.audit.conftest import VECTORS


def _cases(kind: str) -> list[Any]:
    folder = VECTORS / "rfc6962" / kind
    files = sorted(folder.rglob("*.json")) if folder.is_dir() else []
    if not files:
        # Fail loudly rather than silently collecting zero cases.
        return [pytest.param(None, id=f"{kind}-vectors-missing")]
    return [pytest.param(path, id=str(path.relative_to(folder))) for path in files]


def _load(path: Path | None) -> dict[str, Any]:
    if path is None:
        pytest.fail(f"no RFC 6962 vectors under {VECTORS.resolve()}")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _b64(values: list[str] | None) -> list[bytes]:
    return [base64.b64decode(value) for value in values or []]


@pytest.mark.parametrize("path", _cases("inclusion"))
def test_inclusion_vector_is_accepted_or_rejected_as_want_err_says(path: Path | None) -> None:
    case = _load(path)
    leaf_hash, root = (base64.b64decode(case[name] or "") for name in ("leafHash", "root"))

    def check() -> None:
        verify_inclusion(case["leafIdx"], case["treeSize"], leaf_hash, _b64(case["proof"]), root)

    if case["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


@pytest.mark.parametrize("path", _cases("consistency"))
def test_consistency_vector_is_accepted_or_rejected_as_want_err_says(path: Path | None) -> None:
    case = _load(path)
    root1, root2 = (base64.b64decode(case[name] or "") for name in ("root1", "root2"))

    def check() -> None:
        verify_consistency(case["size1"], case["size2"], _b64(case["proof"]), root1, root2)

    if case["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


def _note_vector(vectors: Path) -> dict[str, str]:
    data: dict[str, str] = json.loads((vectors / "signed-note" / "go-sumdb-note.json").read_text())
    return data


def test_signing_the_note_vector_reproduces_it_byte_for_byte(vectors: Path) -> None:
    case = _note_vector(vectors)
    signed = sign_note(case["text"], [parse_signer_key(case["signer_key"])])
    assert signed.encode() == case["signed_note"].encode()


def test_the_note_vector_verifies_with_its_verifier_key(vectors: Path) -> None:
    case = _note_vector(vectors)
    opened = open_note(case["signed_note"].encode(), [parse_verifier_key(case["verifier_key"])])
    assert opened.text == case["text"]


def test_the_signer_key_yields_the_vectors_verifier_key(vectors: Path) -> None:
    case = _note_vector(vectors)
    assert parse_signer_key(case["signer_key"]).verifier.verifier_key() == case["verifier_key"]


def test_changing_any_byte_of_the_note_vector_fails_verification(vectors: Path) -> None:
    case = _note_vector(vectors)
    verifier = parse_verifier_key(case["verifier_key"])
    note = case["signed_note"].encode()
    for index in range(len(note)):
        tampered = bytearray(note)
        tampered[index] ^= 0x01
        with pytest.raises(NoteError):
            open_note(bytes(tampered), [verifier])

"""Signed notes and checkpoint bodies, beyond the reference vector."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policy_engine.audit import (
    Checkpoint,
    CheckpointError,
    NoteError,
    NoteSigner,
    open_note,
    parse_checkpoint,
    parse_verifier_key,
    sign_note,
)

BODY = "example.test/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"


def signer(name: str = "example.test/log") -> NoteSigner:
    return NoteSigner(name, Ed25519PrivateKey.generate())


def test_a_note_verifies_when_any_one_signer_is_trusted() -> None:
    first, second = signer(), signer("witness.test")
    note = sign_note(BODY, [first, second])
    opened = open_note(note, [second.verifier])
    assert (opened.text, opened.verified_by, opened.unverified) == (BODY, (second.verifier,), 1)


def test_a_note_by_no_trusted_key_is_rejected() -> None:
    with pytest.raises(NoteError, match="no signature"):
        open_note(sign_note(BODY, [signer()]), [signer().verifier])


def test_a_signature_under_the_wrong_name_does_not_count() -> None:
    real = signer()
    renamed = NoteSigner("other.test/log", real.key)
    with pytest.raises(NoteError, match="no signature"):
        open_note(sign_note(BODY, [renamed]), [real.verifier])


def test_verifier_key_strings_round_trip() -> None:
    verifier = signer().verifier
    assert parse_verifier_key(verifier.verifier_key()) == verifier


def test_a_verifier_key_with_a_wrong_hash_is_rejected() -> None:
    name, _, material = signer().verifier.verifier_key().split("+", 2)
    with pytest.raises(NoteError, match="wrong key hash"):
        parse_verifier_key(f"{name}+00000000+{material}")


@pytest.mark.parametrize("name", ["", "has space", "has+plus"])
def test_key_names_with_spaces_or_plus_are_refused(name: str) -> None:
    with pytest.raises(NoteError):
        signer(name)


def test_text_without_a_final_newline_cannot_be_signed() -> None:
    with pytest.raises(NoteError):
        sign_note(BODY.rstrip("\n"), [signer()])


def test_checkpoint_body_round_trips() -> None:
    checkpoint = Checkpoint("example.test/log", 3, bytes(32))
    assert checkpoint.body() == BODY
    assert parse_checkpoint(BODY) == checkpoint


def test_checkpoint_extension_lines_are_allowed() -> None:
    assert parse_checkpoint(BODY + "extension\n").size == 3


@pytest.mark.parametrize(
    "body",
    [
        "example.test/log\n3\n",
        "example.test/log\n03\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "example.test/log\n-3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "example.test/log\n3\nAAAA\n",
        "example.test/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
    ],
    ids=["no-root", "leading-zero", "negative", "short-root", "no-final-newline", "no-origin"],
)
def test_malformed_checkpoint_bodies_are_rejected(body: str) -> None:
    with pytest.raises(CheckpointError):
        parse_checkpoint(body)

"""Signed notes and checkpoint bodies, beyond the reference vector."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policy_engine.audit import (
    MAX_SIGNATURES,
    Checkpoint,
    CheckpointError,
    NoteError,
    NoteSigner,
    open_note,
    parse_checkpoint,
    parse_verifier_key,
    sign_note,
)
from policy_engine.audit._note import split_note

BODY = "example.test/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"


def signer(name: str = "example.test/log") -> NoteSigner:
    return NoteSigner(name, Ed25519PrivateKey.generate())


def test_a_note_verifies_when_any_one_signer_is_trusted() -> None:
    first, second = signer(), signer("witness.test")
    note = sign_note(BODY, [first, second])
    opened = open_note(note.encode(), [second.verifier])
    assert (opened.text, opened.verified_by, opened.unverified) == (BODY, (second.verifier,), 1)


def test_a_note_by_no_trusted_key_is_rejected() -> None:
    with pytest.raises(NoteError, match="no signature"):
        open_note(sign_note(BODY, [signer()]).encode(), [signer().verifier])


def test_a_signature_under_the_wrong_name_does_not_count() -> None:
    real = signer()
    renamed = NoteSigner("other.test/log", real.key)
    with pytest.raises(NoteError, match="no signature"):
        open_note(sign_note(BODY, [renamed]).encode(), [real.verifier])


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


def test_a_note_with_crlf_line_endings_is_malformed() -> None:
    first = signer()
    note = sign_note(BODY, [first]).replace("\n", "\r\n").encode()
    with pytest.raises(NoteError, match=r"U\+000D \(CRLF"):
        open_note(note, [first.verifier])


@pytest.mark.parametrize("char", ["\x00", "\t", "\x1b", "\x0b"])
def test_a_control_character_anywhere_in_a_note_is_malformed(char: str) -> None:
    first = signer()
    note = sign_note(BODY, [first]).replace("3\n", f"3{char}\n", 1).encode()
    with pytest.raises(NoteError, match="control character"):
        open_note(note, [first.verifier])


def test_a_note_that_is_not_utf8_is_malformed() -> None:
    first = signer()
    note = sign_note(BODY, [first]).encode().replace(b"example", b"ex\xffmple", 1)
    with pytest.raises(NoteError, match="not valid UTF-8"):
        open_note(note, [first.verifier])


def _with_unknown_signatures(count: int) -> tuple[bytes, NoteSigner]:
    trusted = signer()
    others = [NoteSigner(f"witness{i}.test", Ed25519PrivateKey.generate()) for i in range(count)]
    return sign_note(BODY, [*others, trusted]).encode(), trusted


def test_a_note_with_max_signatures_opens() -> None:
    note, trusted = _with_unknown_signatures(MAX_SIGNATURES - 1)
    assert open_note(note, [trusted.verifier]).unverified == MAX_SIGNATURES - 1


def test_a_note_with_more_than_max_signatures_is_refused_before_any_is_checked() -> None:
    note, trusted = _with_unknown_signatures(MAX_SIGNATURES)
    with pytest.raises(NoteError, match=f"more than {MAX_SIGNATURES}"):
        open_note(note, [trusted.verifier])


@pytest.mark.parametrize("name", ["has+plus", "nbsp\u00a0name", "line\u2028sep"])
def test_a_signature_line_whose_key_name_is_invalid_is_malformed(name: str) -> None:
    trusted = signer()
    note = sign_note(BODY, [trusted])
    forged = f"{note}\u2014 {name} AAAAAAAAAAAAAAAAAAAA\n".encode()
    with pytest.raises(NoteError, match="malformed signature line"):
        open_note(forged, [trusted.verifier])


@pytest.mark.parametrize(
    "name",
    ["tab\tin", "nul\x00in", "del\x7fin", "nbsp\u00a0in", "ideographic\u3000space", " lead"],
)
def test_key_names_with_control_or_unicode_space_characters_are_refused(name: str) -> None:
    with pytest.raises(NoteError, match="invalid key name"):
        signer(name)


@pytest.mark.parametrize(
    "body",
    [BODY + "\nextension\n", BODY + "\n", BODY + "ext\n\n"],
    ids=["empty-then-extension", "trailing-empty", "extension-then-empty"],
)
def test_an_empty_extension_line_is_refused(body: str) -> None:
    with pytest.raises(CheckpointError, match="empty extension line"):
        parse_checkpoint(body)


def test_a_signed_checkpoint_with_an_empty_extension_line_is_refused() -> None:
    # The blank line before the signatures is the last one, so the body keeps its own.
    first = signer()
    note = f"{BODY}\nextension\n\n\u2014 example.test/log AAAAAAAAAAAA\n".encode()
    text, _ = split_note(note)
    assert text == BODY + "\nextension\n"
    with pytest.raises(CheckpointError):
        parse_checkpoint(open_note(_resigned(text, first), [first.verifier]).text)


def _resigned(text: str, by: NoteSigner) -> bytes:
    """`text` signed as sign_note would, for a text sign_note itself refuses."""
    signature = base64.b64encode(by.key_hash + by.key.sign(text.encode())).decode()
    return f"{text}\n\u2014 {by.name} {signature}\n".encode()


def test_a_tree_size_beyond_int64_is_refused() -> None:
    with pytest.raises(CheckpointError, match="beyond"):
        parse_checkpoint(BODY.replace("\n3\n", f"\n{2**63}\n"))

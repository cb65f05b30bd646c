"""C2SP tlog-cosignature/v1 (Ed25519): the witness's signature line on a checkpoint."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from policy_engine.audit import (
    Cosigner,
    NoteError,
    NoteSigner,
    open_note,
    parse_cosignature_key,
    sign_note,
)

BODY = "example.com/log\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
TIME = 1679315147


@pytest.fixture
def log() -> NoteSigner:
    return NoteSigner("example.com/log", Ed25519PrivateKey.generate())


@pytest.fixture
def witness() -> Cosigner:
    return Cosigner("witness.example.com/w1", Ed25519PrivateKey.generate())


def test_the_key_id_uses_the_cosignature_algorithm_byte(witness: Cosigner) -> None:
    raw = witness.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    expected = hashlib.sha256(witness.name.encode() + b"\n\x04" + raw).digest()[:4]
    assert witness.verifier.key_hash == expected


def test_the_signature_is_over_the_header_the_time_and_the_note_text(
    log: NoteSigner, witness: Cosigner
) -> None:
    cosigned = witness.cosign(sign_note(BODY, [log]), TIME)
    line = cosigned.splitlines()[-1]
    assert line.startswith("\u2014 witness.example.com/w1 ")
    blob = base64.b64decode(line.rsplit(" ", 1)[1])
    assert blob[:4] == witness.verifier.key_hash
    assert struct.unpack(">Q", blob[4:12]) == (TIME,)
    message = f"cosignature/v1\ntime {TIME}\n{BODY}".encode()
    witness.key.public_key().verify(blob[12:], message)  # raises if not


def test_a_cosignature_verifies_and_gives_its_time(log: NoteSigner, witness: Cosigner) -> None:
    cosigned = witness.cosign(sign_note(BODY, [log]), TIME)
    assert witness.verifier.verify(cosigned) == TIME


def test_the_log_signature_still_opens_the_cosigned_note(
    log: NoteSigner, witness: Cosigner
) -> None:
    opened = open_note(witness.cosign(sign_note(BODY, [log]), TIME).encode(), [log.verifier])
    assert opened.text == BODY
    assert opened.unverified == 1


def test_the_vkey_round_trips(witness: Cosigner) -> None:
    vkey = witness.verifier.verifier_key()
    name, key_id, material = vkey.split("+", 2)
    assert (name, key_id) == ("witness.example.com/w1", witness.verifier.key_hash.hex())
    assert base64.b64decode(material)[:1] == b"\x04"
    parsed = parse_cosignature_key(vkey)
    assert parsed.key_hash == witness.verifier.key_hash


@pytest.mark.parametrize(
    "change",
    [
        lambda note: note.replace("20852163", "20852164"),  # another size
        lambda note: note.replace("CsUYap", "DsUYap"),  # another root
        lambda note: note.replace("example.com/log\n", "example.com/other\n", 1),  # origin
    ],
    ids=["size", "root", "origin"],
)
def test_a_cosignature_on_a_changed_checkpoint_is_refused(
    log: NoteSigner, witness: Cosigner, change: object
) -> None:
    cosigned = witness.cosign(sign_note(BODY, [log]), TIME)
    with pytest.raises(NoteError, match="invalid cosignature"):
        witness.verifier.verify(change(cosigned))  # type: ignore[operator]


def test_a_cosignature_with_a_changed_time_is_refused(log: NoteSigner, witness: Cosigner) -> None:
    cosigned = witness.cosign(sign_note(BODY, [log]), TIME)
    line = cosigned.splitlines()[-1]
    blob = bytearray(base64.b64decode(line.rsplit(" ", 1)[1]))
    blob[11] ^= 1
    forged = cosigned.replace(line.rsplit(" ", 1)[1], base64.b64encode(bytes(blob)).decode())
    with pytest.raises(NoteError, match="invalid cosignature"):
        witness.verifier.verify(forged)


def test_extension_lines_are_covered(log: NoteSigner, witness: Cosigner) -> None:
    cosigned = witness.cosign(sign_note(BODY + "extension\n", [log]), TIME)
    with pytest.raises(NoteError):
        witness.verifier.verify(cosigned.replace("extension", "extensioN"))


def test_another_key_under_the_same_name_is_no_cosignature(
    log: NoteSigner, witness: Cosigner
) -> None:
    impostor = Cosigner(witness.name, Ed25519PrivateKey.generate())
    cosigned = impostor.cosign(sign_note(BODY, [log]), TIME)
    with pytest.raises(NoteError, match="no cosignature by witness"):
        witness.verifier.verify(cosigned)


def test_a_log_key_string_is_not_a_witness_key(log: NoteSigner) -> None:
    with pytest.raises(NoteError, match="not an Ed25519 cosignature/v1 key"):
        parse_cosignature_key(log.verifier.verifier_key())

"""C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys.

A key is named; its 4-byte key hash is SHA-256(name || 0x0A || 0x01 || pubkey)[:4],
and its verifier key string is `name+hex(keyhash)+base64(0x01 || pubkey)`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from policy_engine.audit._errors import NoteError

_ALG_ED25519 = b"\x01"
_SIG_PREFIX = "\u2014 "  # an em dash and a space open every signature line


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def note_key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    digest = hashlib.sha256(name.encode() + b"\n" + _ALG_ED25519 + _raw_public(public_key))
    return digest.digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"invalid key name {name!r}: empty, or holds a space or '+'")


@dataclass(frozen=True)
class NoteSigner:
    name: str
    key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def key_hash(self) -> bytes:
        return note_key_hash(self.name, self.key.public_key())

    @property
    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self.key.public_key())


@dataclass(frozen=True)
class NoteVerifier:
    name: str
    key: Ed25519PublicKey

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def key_hash(self) -> bytes:
        return note_key_hash(self.name, self.key)

    def verifier_key(self) -> str:
        encoded = base64.b64encode(_ALG_ED25519 + _raw_public(self.key)).decode()
        return f"{self.name}+{self.key_hash.hex()}+{encoded}"


def _split_key(text: str, parts: int) -> list[str]:
    fields = text.split("+", parts - 1)
    if len(fields) != parts:
        raise NoteError(f"malformed key string: want {parts} '+'-separated fields")
    return fields


def _decode_key_material(name: str, hash_hex: str, material: str) -> bytes:
    try:
        raw = base64.b64decode(material, validate=True)
        key_hash = bytes.fromhex(hash_hex)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"malformed key string for {name!r}: {exc}") from exc
    if len(key_hash) != 4 or len(raw) != 33 or raw[:1] != _ALG_ED25519:
        raise NoteError(f"key string for {name!r} is not an Ed25519 key")
    return raw[1:]


def parse_verifier_key(text: str) -> NoteVerifier:
    name, hash_hex, material = _split_key(text, 3)
    verifier = NoteVerifier(
        name, Ed25519PublicKey.from_public_bytes(_decode_key_material(name, hash_hex, material))
    )
    if verifier.key_hash.hex() != hash_hex:
        raise NoteError(f"verifier key for {name!r} has a wrong key hash")
    return verifier


def parse_signer_key(text: str) -> NoteSigner:
    """Parse `PRIVATE+KEY+name+hex(keyhash)+base64(0x01 || seed)` (the Go sumdb format)."""
    private, key, name, hash_hex, material = _split_key(text, 5)
    if (private, key) != ("PRIVATE", "KEY"):
        raise NoteError("signer key string does not start with PRIVATE+KEY+")
    seed = _decode_key_material(name, hash_hex, material)
    signer = NoteSigner(name, Ed25519PrivateKey.from_private_bytes(seed))
    if signer.key_hash.hex() != hash_hex:
        raise NoteError(f"signer key for {name!r} has a wrong key hash")
    return signer


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("note text must end in a newline and hold no blank line")
    lines = []
    for signer in signers:
        signature = signer.key.sign(text.encode())
        encoded = base64.b64encode(signer.key_hash + signature).decode()
        lines.append(f"{_SIG_PREFIX}{signer.name} {encoded}\n")
    return text + "\n" + "".join(lines)


@dataclass(frozen=True)
class OpenedNote:
    text: str
    verified_by: tuple[NoteVerifier, ...]
    unverified: int  # signatures by keys we do not know (allowed, as C2SP says)


def open_note(note: str, verifiers: Sequence[NoteVerifier]) -> OpenedNote:
    """Check `note`'s signatures against `verifiers`; at least one must verify it."""
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError("malformed note: no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    known = {(v.name, v.key_hash): v for v in verifiers}
    verified: list[NoteVerifier] = []
    unverified = 0
    for line in block.splitlines():
        name, key_hash, signature = _parse_signature_line(line)
        verifier = known.get((name, key_hash))
        if verifier is None:
            unverified += 1
            continue
        try:
            verifier.key.verify(signature, text.encode())
        except InvalidSignature as exc:
            raise NoteError(f"invalid signature by key {name}+{key_hash.hex()}") from exc
        verified.append(verifier)
    if not verified:
        raise NoteError("no signature on the note is by a trusted key")
    return OpenedNote(text, tuple(verified), unverified)


def _parse_signature_line(line: str) -> tuple[str, bytes, bytes]:
    if not line.startswith(_SIG_PREFIX):
        raise NoteError(f"malformed signature line {line!r}")
    name, _, encoded = line[len(_SIG_PREFIX) :].partition(" ")
    try:
        blob = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise NoteError(f"malformed signature for {name!r}: {exc}") from exc
    if not name or len(blob) < 5:
        raise NoteError(f"malformed signature line {line!r}")
    return name, blob[:4], blob[4:]

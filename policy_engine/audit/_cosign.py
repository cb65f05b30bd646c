"""C2SP tlog-cosignature (https://c2sp.org/tlog-cosignature): Ed25519 cosignature/v1.

A witness's cosignature is one more signature line on a checkpoint note:
`— <name> base64(key ID || u64 timestamp || Ed25519 signature)`, where the key ID is
SHA-256(name || "\\n" || 0x04 || public key)[:4] and the signed message is
"cosignature/v1\\n" + "time <timestamp>\\n" + the checkpoint's note text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from policy_engine.audit._errors import NoteError

_ALG_COSIGNATURE_V1 = b"\x04"
_SIG_PREFIX = "\u2014 "
_MAX_TIMESTAMP = 2**63 - 1


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def cosigner_key_hash(name: str, key: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _ALG_COSIGNATURE_V1 + _raw(key)).digest()[:4]


def _message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()


def split_note(note: str) -> tuple[str, list[str]]:
    """The note's text (with its final newline) and its signature lines."""
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError("malformed note: no blank line before the signatures")
    return note[: split + 1], note[split + 2 :].splitlines()


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"invalid cosigner name {name!r}: empty, or holds a space or '+'")


@dataclass(frozen=True)
class CosignatureVerifier:
    name: str
    key: Ed25519PublicKey

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def key_hash(self) -> bytes:
        return cosigner_key_hash(self.name, self.key)

    def verifier_key(self) -> str:
        """The C2SP vkey: name+hex(key ID)+base64(0x04 || public key)."""
        material = base64.b64encode(_ALG_COSIGNATURE_V1 + _raw(self.key)).decode()
        return f"{self.name}+{self.key_hash.hex()}+{material}"

    def verify(self, note: str) -> int:
        """The timestamp of this cosigner's valid cosignature on `note`; NoteError if none."""
        text, lines = split_note(note)
        for line in lines:
            name, blob = _signature_line(line)
            if name != self.name or blob[:4] != self.key_hash:
                continue
            if len(blob) != 4 + 8 + 64:
                raise NoteError(f"cosignature by {name} has {len(blob)} bytes, want 76")
            (timestamp,) = struct.unpack(">Q", blob[4:12])
            if timestamp > _MAX_TIMESTAMP:
                raise NoteError(f"cosignature by {name} has a timestamp past 2^63 - 1")
            try:
                self.key.verify(blob[12:], _message(text, timestamp))
            except InvalidSignature as exc:
                raise NoteError(f"invalid cosignature by {name}") from exc
            return int(timestamp)
        raise NoteError(f"no cosignature by witness {self.name}+{self.key_hash.hex()}")


@dataclass(frozen=True)
class Cosigner:
    name: str
    key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.key.public_key())

    def cosign(self, note: str, timestamp: int) -> str:
        """`note` with this cosigner's signature line added after the others."""
        if not 0 <= timestamp <= _MAX_TIMESTAMP:
            raise NoteError(f"timestamp {timestamp} out of range")
        text, _ = split_note(note)
        signature = self.key.sign(_message(text, timestamp))
        blob = self.verifier.key_hash + struct.pack(">Q", timestamp) + signature
        return f"{note}{_SIG_PREFIX}{self.name} {base64.b64encode(blob).decode()}\n"


def parse_cosignature_key(text: str) -> CosignatureVerifier:
    """Parse a vkey `name+hex(key ID)+base64(0x04 || public key)`."""
    fields = text.strip().split("+", 2)
    if len(fields) != 3:
        raise NoteError("malformed witness key: want name+keyid+key")
    name, hash_hex, material = fields
    try:
        raw = base64.b64decode(material, validate=True)
        key_hash = bytes.fromhex(hash_hex)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"malformed witness key for {name!r}: {exc}") from exc
    if len(raw) != 33 or raw[:1] != _ALG_COSIGNATURE_V1 or len(key_hash) != 4:
        raise NoteError(f"witness key for {name!r} is not an Ed25519 cosignature/v1 key")
    verifier = CosignatureVerifier(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
    if verifier.key_hash != key_hash:
        raise NoteError(f"witness key for {name!r} has a wrong key ID")
    return verifier


def _signature_line(line: str) -> tuple[str, bytes]:
    if not line.startswith(_SIG_PREFIX):
        raise NoteError(f"malformed signature line {line!r}")
    name, _, encoded = line[len(_SIG_PREFIX) :].partition(" ")
    try:
        blob = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise NoteError(f"malformed signature for {name!r}: {exc}") from exc
    if not name or len(blob) < 5:
        raise NoteError(f"malformed signature line {line!r}")
    return name, blob

"""C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys.

A key is named; its 4-byte key hash is SHA-256(name || 0x0A || 0x01 || pubkey)[:4],
and its verifier key string is `name+hex(keyhash)+base64(0x01 || pubkey)`.
Notes are opened from their bytes, as Go's `note.Open` does: valid UTF-8 with no
control character but the newline (so a CRLF-mangled note is malformed), at most
`MAX_SIGNATURES` signature lines.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from policy_engine.audit._errors import NoteError

_ALG_ED25519 = b"\x01"
_SIG_PREFIX = "\u2014 "  # an em dash and a space open every signature line
# C2SP asks verifiers to bound the signatures they read and to accept at least 16;
# Go's note.Open stops at 100, and so do we.
MAX_SIGNATURES = 100
# Far above 100 signatures of the largest (post-quantum, ~5 KB) kind.
MAX_NOTE_BYTES = 1 << 20


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def note_key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    digest = hashlib.sha256(name.encode() + b"\n" + _ALG_ED25519 + _raw_public(public_key))
    return digest.digest()[:4]


def key_name_problem(name: str) -> str | None:
    """Why `name` cannot name a note key (C2SP: non-empty, no Unicode space, no '+'; a
    signed note holds no control character), or None when it can."""
    if not name:
        return "it is empty"
    for char in name:
        if char == "+":
            return "it holds '+'"
        if char.isspace():  # a superset of Go's unicode.IsSpace
            return f"it holds a space character (U+{ord(char):04X})"
        if unicodedata.category(char) in ("Cc", "Cs"):
            return f"it holds a control character (U+{ord(char):04X})"
    return None


def _check_name(name: str) -> None:
    problem = key_name_problem(name)
    if problem is not None:
        raise NoteError(f"invalid key name {name!r}: {problem}")


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
    if any(char < " " and char != "\n" for char in text):
        raise NoteError("note text must hold no control character but the newline")
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


def open_note(note: bytes, verifiers: Sequence[NoteVerifier]) -> OpenedNote:
    """Check `note`'s signatures against `verifiers`; at least one must verify it.

    A verifier's name is the key name a signature must carry: pinned by the caller,
    never taken from the note.
    """
    text, lines = split_note(note)
    known = {(v.name, v.key_hash): v for v in verifiers}
    verified: list[NoteVerifier] = []
    others: list[str] = []
    for line in lines:
        name, key_hash, signature = _parse_signature_line(line)
        verifier = known.get((name, key_hash))
        if verifier is None:
            others.append(f"{name}+{key_hash.hex()}")
            continue
        if verifier in verified:
            continue  # a repeated signature by one key counts once, as in Go
        try:
            verifier.key.verify(signature, text.encode())
        except InvalidSignature as exc:
            raise NoteError(f"invalid signature by key {name}+{key_hash.hex()}") from exc
        verified.append(verifier)
    if not verified:
        names = sorted({v.name for v in verifiers})
        raise NoteError(
            f"no signature on the note is by a trusted key named {', '.join(names)} "
            f"(signed by: {', '.join(others)})"
        )
    return OpenedNote(text, tuple(verified), len(others))


def split_note(note: bytes) -> tuple[str, list[str]]:
    """The note's text (not yet verified) and its signature lines; NoteError if malformed."""
    if len(note) > MAX_NOTE_BYTES:
        raise NoteError(f"malformed note: {len(note)} bytes, more than {MAX_NOTE_BYTES}")
    try:
        decoded = note.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NoteError(f"malformed note: not valid UTF-8 ({exc.reason})") from exc
    for char in decoded:
        if char < " " and char != "\n":
            hint = " (CRLF line endings?)" if char == "\r" else ""
            raise NoteError(f"malformed note: control character U+{ord(char):04X}{hint}")
    split = decoded.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed note: no blank line before the signatures")
    text, block = decoded[: split + 1], decoded[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError("malformed note: no signature line, or no final newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"malformed note: {len(lines)} signatures, more than {MAX_SIGNATURES}")
    return text, lines


def _parse_signature_line(line: str) -> tuple[str, bytes, bytes]:
    if not line.startswith(_SIG_PREFIX):
        raise NoteError(f"malformed signature line {line!r}")
    name, _, encoded = line[len(_SIG_PREFIX) :].partition(" ")
    try:
        blob = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise NoteError(f"malformed signature for {name!r}: {exc}") from exc
    if key_name_problem(name) is not None or len(blob) < 5:
        raise NoteError(f"malformed signature line {line!r}")
    return name, blob[:4], blob[4:]

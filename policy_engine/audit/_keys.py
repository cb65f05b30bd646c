"""Ed25519 key files and the record key id.

Record key id (`kid`): the first 8 bytes, in hex, of SHA-256 over the raw 32-byte
Ed25519 public key. It depends on the key alone, so a verifier given a set of
public key PEMs (old and new, across rotations) maps each record to its key.
Rotating means: generate a new key, point `signing_key_file` at it, restart; new
records carry the new kid, and auditors add the new public key to their trusted set.
Checkpoints are signed notes whose key name is the log origin (see `_note`).
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from policy_engine.audit._errors import KeyFileError

PRIVATE_KEY_NAME = "audit-signing-key.pem"
PUBLIC_KEY_NAME = "audit-signing-key.pub.pem"


def record_key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:16]


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Load a PKCS8 PEM private key, refusing one that group or others can read."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read signing key {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"signing key {path} has mode {stat.S_IMODE(mode):o}; "
            "refusing a key that group or others can access (chmod 600)"
        )
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"signing key {path} is not an unencrypted PEM key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"signing key {path} is not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise KeyFileError(f"cannot read public key {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise KeyFileError(f"public key {path} is not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"public key {path} is not an Ed25519 key")
    return key


def write_key_pair(directory: Path, key: Ed25519PrivateKey) -> tuple[Path, Path]:
    """Write the private key (created 0600, never wider) and its public key PEM."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path = directory / PRIVATE_KEY_NAME
    public_path = directory / PUBLIC_KEY_NAME
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    try:
        # O_EXCL: never overwrite a key that may still be signing a live log.
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise KeyFileError(f"{private_path} already exists; not overwriting a key") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public_pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    public_path.write_bytes(public_pem)
    return private_path, public_path

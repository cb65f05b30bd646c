"""RFC 6962 Merkle tree hashing: leaf and interior node hashes with domain separation."""

from __future__ import annotations

import hashlib

HASH_SIZE = 32
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def empty_root() -> bytes:
    """The root of the empty tree: the hash of no input (RFC 6962, section 2.1)."""
    return hashlib.sha256(b"").digest()


def hash_leaf(data: bytes) -> bytes:
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()

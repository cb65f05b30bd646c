"""Pure RFC 6962 proof verifiers, after transparency-dev/merkle's proof/verify.go.

Each verifier returns None on success and raises a `ProofError`; a root that the
proof does not reproduce raises `RootMismatchError` carrying both roots.
"""

from __future__ import annotations

from collections.abc import Sequence

from policy_engine.audit._errors import ProofError, RootMismatchError
from policy_engine.audit._hashing import HASH_SIZE, hash_children


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    computed = root_from_inclusion_proof(index, size, leaf_hash, proof)
    _match(expected=root, computed=computed)


def root_from_inclusion_proof(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside tree of size {size}")
    _check_sizes(leaf_hash, proof)
    inner, border = _decompose(index, size)
    if len(proof) != inner + border:
        raise ProofError(f"wrong proof size {len(proof)}, want {inner + border}")
    node = _chain_inner(leaf_hash, proof[:inner], index)
    return _chain_border_right(node, proof[inner:])


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    if size1 < 1:
        # Every tree extends the empty one; such a "proof" would show nothing.
        raise ProofError(f"consistency from size {size1} is meaningless: need size1 >= 1")
    if size2 < size1:
        raise ProofError(f"size2 ({size2}) < size1 ({size1})")
    if size1 == size2:
        if proof:
            raise ProofError("size1 == size2 but the proof is not empty")
        _match(expected=root2, computed=root1)
        return
    if not proof:
        raise ProofError("empty proof")
    _check_sizes(proof[0], proof[1:])

    inner, border = _decompose(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1
    inner -= shift
    # The proof starts with the root of the 2**shift subtree, unless size1 is that subtree.
    seed, start = (root1, 0) if size1 == 1 << shift else (proof[0], 1)
    if len(proof) != start + inner + border:
        raise ProofError(f"wrong proof size {len(proof)}, want {start + inner + border}")
    rest = proof[start:]
    mask = (size1 - 1) >> shift

    hash1 = _chain_border_right(_chain_inner_right(seed, rest[:inner], mask), rest[inner:])
    _match(expected=root1, computed=hash1)
    hash2 = _chain_border_right(_chain_inner(seed, rest[:inner], mask), rest[inner:])
    _match(expected=root2, computed=hash2)


def _check_sizes(first: bytes, others: Sequence[bytes]) -> None:
    for value in (first, *others):
        if len(value) != HASH_SIZE:
            raise ProofError(f"hash has {len(value)} bytes, want {HASH_SIZE}")


def _match(*, expected: bytes, computed: bytes) -> None:
    if expected != computed:
        raise RootMismatchError(expected=expected, computed=computed)


def _decompose(index: int, size: int) -> tuple[int, int]:
    """Split a proof into the part below the leaf's split point and the right border."""
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for level, sibling in enumerate(proof):
        right_child = (index >> level) & 1
        seed = hash_children(sibling, seed) if right_child else hash_children(seed, sibling)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for level, sibling in enumerate(proof):
        if (index >> level) & 1:
            seed = hash_children(sibling, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for sibling in proof:
        seed = hash_children(sibling, seed)
    return seed

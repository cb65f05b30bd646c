"""Building RFC 6962 Merkle roots and proofs from leaf hashes; checking them is `_proof`."""

from __future__ import annotations

from collections.abc import Sequence

from policy_engine.audit._hashing import HASH_SIZE, empty_root, hash_children


def _split(size: int) -> int:
    """The largest power of two strictly below `size` (RFC 6962, section 2.1)."""
    return 1 << ((size - 1).bit_length() - 1)


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of `leaves` (leaf hashes, already prefixed-and-hashed)."""
    if not leaves:
        return empty_root()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return hash_children(tree_root(leaves[:k]), tree_root(leaves[k:]))


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path for leaf `index` in the tree over `leaves` (RFC 6962, section 2.1.1)."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf index {index} outside tree of size {len(leaves)}")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_proof(leaves[:k], index), tree_root(leaves[k:])]
    return [*inclusion_proof(leaves[k:], index - k), tree_root(leaves[:k])]


def consistency_proof(leaves: Sequence[bytes], size1: int) -> list[bytes]:
    """The proof that the tree of size `size1` is a prefix of the tree over `leaves`."""
    if not 0 <= size1 <= len(leaves):
        raise ValueError(f"size {size1} outside tree of size {len(leaves)}")
    if size1 in (0, len(leaves)):
        return []
    return _subproof(leaves, size1, complete=True)


def _subproof(leaves: Sequence[bytes], m: int, *, complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [tree_root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(leaves[:k], m, complete=complete), tree_root(leaves[k:])]
    return [*_subproof(leaves[k:], m - k, complete=False), tree_root(leaves[:k])]


class CompactRange:
    """The roots of the perfect subtrees covering leaves [0, size): O(log n) state.

    Lets the writer and the verifier compute the root at any size while streaming
    leaves, without keeping every leaf hash in memory.
    """

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @property
    def size(self) -> int:
        return self._size

    @classmethod
    def from_hashes(cls, size: int, hashes: Sequence[bytes]) -> CompactRange:
        """The range of `size` leaves whose subtree roots are `hashes`, largest first."""
        if size < 0 or len(hashes) != size.bit_count():
            raise ValueError(f"a range of {size} leaves has {size.bit_count()} subtree roots")
        if any(len(node) != HASH_SIZE for node in hashes):
            raise ValueError(f"a subtree root has {HASH_SIZE} bytes")
        made = cls()
        made._size = size
        made._hashes = list(hashes)
        return made

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The roots of the perfect subtrees covering [0, size), largest (leftmost) first."""
        return tuple(self._hashes)

    def nodes(self) -> dict[tuple[int, int], bytes]:
        """Each subtree root by the leaf interval [start, end) it covers."""
        found: dict[tuple[int, int], bytes] = {}
        start = 0
        for node in self._hashes:
            # The subtrees shrink left to right, each a power of two taken from `size`.
            width = 1 << ((self._size - start).bit_length() - 1)
            found[(start, start + width)] = node
            start += width
        return found

    def copy(self) -> CompactRange:
        clone = CompactRange()
        clone._size = self._size
        clone._hashes = list(self._hashes)
        return clone

    def append(self, leaf: bytes) -> None:
        node = leaf
        size = self._size
        # Each trailing one bit of the old size is a finished left sibling to merge.
        while size & 1:
            node = hash_children(self._hashes.pop(), node)
            size >>= 1
        self._hashes.append(node)
        self._size += 1

    def root(self) -> bytes:
        if not self._hashes:
            return empty_root()
        node = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            node = hash_children(left, node)
        return node


def consistency_proof_from(prefix: CompactRange, tail: Sequence[bytes]) -> list[bytes]:
    """The proof that the tree of size `prefix.size` is a prefix of that tree extended by
    the leaf hashes `tail`: the same proof as `consistency_proof`, built without the
    leaves before `prefix.size`, whose every subtree the proof needs is in `prefix`."""
    old, size = prefix.size, prefix.size + len(tail)
    if old in (0, size):
        return []
    known = prefix.nodes()

    def node(start: int, end: int) -> bytes:
        if end <= old:
            return known[(start, end)]
        if start >= old:
            return tree_root(tail[start - old : end - old])
        k = _split(end - start)
        return hash_children(node(start, start + k), node(start + k, end))

    def subproof(start: int, end: int, complete: bool) -> list[bytes]:
        if old == end:
            return [] if complete else [node(start, end)]
        k = _split(end - start)
        if old - start <= k:
            return [*subproof(start, start + k, complete), node(start + k, end)]
        return [*subproof(start + k, end, False), node(start, start + k)]

    return subproof(0, size, True)

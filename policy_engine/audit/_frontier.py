"""Consistency proofs built from O(log n) state: the tree's frontier and the new leaves.

A shipper that has sent the log up to size m keeps only the roots of the perfect
subtrees covering [0, m) (the frontier, as `CompactRange` holds them). Every node of
an RFC 6962 consistency proof from m to n is either a run of those roots (the
subtrees left of m) or a subtree of the leaves appended after m, so the proof needs
no earlier leaf.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from policy_engine.audit._hashing import hash_children
from policy_engine.audit._merkle import CompactRange, tree_root


class Frontier(CompactRange):
    """A `CompactRange` whose roots can be saved and restored (the shipper's state)."""

    @property
    def nodes(self) -> tuple[bytes, ...]:
        return tuple(self._hashes)

    def to_json(self) -> list[str]:
        return [base64.b64encode(node).decode() for node in self._hashes]

    @classmethod
    def restore(cls, size: int, nodes: Sequence[bytes]) -> Frontier:
        if len(nodes) != size.bit_count():
            raise ValueError(f"a tree of size {size} has {size.bit_count()} frontier roots")
        frontier = cls()
        frontier._size = size
        frontier._hashes = list(nodes)
        return frontier

    @classmethod
    def from_json(cls, size: int, nodes: Sequence[str]) -> Frontier:
        return cls.restore(size, [base64.b64decode(node, validate=True) for node in nodes])

    def copy(self) -> Frontier:
        return Frontier.restore(self.size, self.nodes)

    def spans(self) -> list[tuple[int, int]]:
        """The [start, end) leaf range of each frontier root, left to right."""
        spans: list[tuple[int, int]] = []
        start = 0
        for bit in reversed(range(self.size.bit_length())):
            if self.size >> bit & 1:
                spans.append((start, start + (1 << bit)))
                start += 1 << bit
        return spans


def consistency_proof_extending(old: Frontier, new_leaves: Sequence[bytes]) -> list[bytes]:
    """The RFC 6962 consistency proof from `old`'s size to that size plus `new_leaves`."""
    m = old.size
    n = m + len(new_leaves)
    if m == 0 or m == n:
        return []
    spans = dict(zip(old.spans(), old.nodes, strict=True))

    def subtree(lo: int, hi: int) -> bytes:
        if lo >= m:
            return tree_root(new_leaves[lo - m : hi - m])
        # A range left of m in a proof is always a run of frontier roots ending at hi.
        covering = [(span, node) for span, node in spans.items() if lo <= span[0] < hi]
        if not covering or covering[0][0][0] != lo or covering[-1][0][1] != hi:
            raise AssertionError(f"[{lo}, {hi}) is not a run of frontier roots")
        node = covering[-1][1]
        for _, left in reversed(covering[:-1]):
            node = hash_children(left, node)
        return node

    def subproof(lo: int, hi: int, complete: bool) -> list[bytes]:
        # RFC 6962 section 2.1.2, SUBPROOF(m, D[lo:hi], b), on absolute leaf indices.
        if m == hi:
            return [] if complete else [subtree(lo, hi)]
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        if m <= lo + k:
            return [*subproof(lo, lo + k, complete), subtree(lo + k, hi)]
        return [*subproof(lo + k, hi, False), subtree(lo, lo + k)]

    return subproof(0, n, True)

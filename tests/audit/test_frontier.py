"""Consistency proofs from the frontier and the new leaves equal those from every leaf."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from policy_engine.audit import (
    Frontier,
    consistency_proof,
    consistency_proof_extending,
    hash_leaf,
    tree_root,
    verify_consistency,
)


def leaves(count: int) -> list[bytes]:
    return [hash_leaf(hashlib.sha256(str(i).encode()).digest()) for i in range(count)]


def frontier_of(items: list[bytes]) -> Frontier:
    frontier = Frontier()
    for leaf in items:
        frontier.append(leaf)
    return frontier


@given(st.integers(1, 300), st.integers(0, 300))
def test_the_proof_from_the_frontier_is_the_proof_from_every_leaf(old: int, added: int) -> None:
    items = leaves(old + added)
    proof = consistency_proof_extending(frontier_of(items[:old]), items[old:])
    assert proof == consistency_proof(items, old)


@given(st.integers(1, 200), st.integers(1, 200))
def test_the_proof_verifies_between_the_two_roots(old: int, added: int) -> None:
    items = leaves(old + added)
    proof = consistency_proof_extending(frontier_of(items[:old]), items[old:])
    verify_consistency(old, old + added, proof, tree_root(items[:old]), tree_root(items))


@given(st.integers(0, 1000))
def test_a_saved_frontier_restores_to_the_same_root(size: int) -> None:
    frontier = frontier_of(leaves(size))
    restored = Frontier.from_json(size, frontier.to_json())
    assert restored.root() == frontier.root()
    assert restored.nodes == frontier.nodes


def test_a_frontier_with_the_wrong_number_of_roots_is_refused() -> None:
    try:
        Frontier.restore(6, [b"\0" * 32])
    except ValueError as error:
        assert "2 frontier roots" in str(error)
    else:
        raise AssertionError("accepted a frontier that cannot be a tree of size 6")

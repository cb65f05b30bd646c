"""Merkle proofs built by `_merkle` check out with the `_proof` verifiers, for any tree."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy_engine.audit import (
    CompactRange,
    ProofError,
    RootMismatchError,
    consistency_proof,
    empty_root,
    hash_children,
    hash_leaf,
    inclusion_proof,
    tree_root,
    verify_consistency,
    verify_inclusion,
)


def _leaves(count: int) -> list[bytes]:
    return [hash_leaf(f"leaf {index}".encode()) for index in range(count)]


sizes = st.integers(min_value=1, max_value=300)


def test_empty_tree_root_is_the_hash_of_nothing() -> None:
    assert tree_root([]) == empty_root() == hashlib.sha256(b"").digest()


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    assert hash_leaf(b"x") == hashlib.sha256(b"\x00x").digest()
    assert hash_children(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()


def test_three_leaf_root_splits_at_the_largest_power_of_two() -> None:
    a, b, c = _leaves(3)
    assert tree_root([a, b, c]) == hash_children(hash_children(a, b), c)


@given(size=sizes, data=st.data())
def test_inclusion_proof_verifies_for_every_leaf(size: int, data: st.DataObject) -> None:
    leaves = _leaves(size)
    root = tree_root(leaves)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    verify_inclusion(index, size, leaves[index], inclusion_proof(leaves, index), root)


@given(size=st.integers(min_value=2, max_value=300), data=st.data())
def test_inclusion_proof_fails_for_another_leaf(size: int, data: st.DataObject) -> None:
    leaves = _leaves(size)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    other = data.draw(st.integers(min_value=0, max_value=size - 1).filter(lambda i: i != index))
    with pytest.raises(RootMismatchError):
        verify_inclusion(
            index, size, leaves[other], inclusion_proof(leaves, index), tree_root(leaves)
        )


@given(size2=sizes, data=st.data())
def test_consistency_proof_verifies_between_any_two_sizes(size2: int, data: st.DataObject) -> None:
    leaves = _leaves(size2)
    size1 = data.draw(st.integers(min_value=1, max_value=size2))
    proof = consistency_proof(leaves, size1)
    verify_consistency(size1, size2, proof, tree_root(leaves[:size1]), tree_root(leaves))


@given(size2=st.integers(min_value=2, max_value=300), data=st.data())
def test_consistency_proof_fails_when_history_is_rewritten(size2: int, data: st.DataObject) -> None:
    leaves = _leaves(size2)
    size1 = data.draw(st.integers(min_value=1, max_value=size2 - 1))
    changed = data.draw(st.integers(min_value=0, max_value=size1 - 1))
    forked = list(leaves)
    forked[changed] = hash_leaf(b"rewritten")
    with pytest.raises(ProofError):
        verify_consistency(
            size1,
            size2,
            consistency_proof(forked, size1),
            tree_root(leaves[:size1]),
            tree_root(forked),
        )


@given(size=st.integers(min_value=0, max_value=300))
def test_compact_range_root_equals_the_full_tree_root(size: int) -> None:
    leaves = _leaves(size)
    compact = CompactRange()
    for leaf in leaves:
        compact.append(leaf)
    assert compact.root() == tree_root(leaves)


def test_root_mismatch_error_carries_expected_and_computed_roots() -> None:
    leaves = _leaves(5)
    wrong = hash_leaf(b"not the root")
    with pytest.raises(RootMismatchError) as caught:
        verify_inclusion(2, 5, leaves[2], inclusion_proof(leaves, 2), wrong)
    assert caught.value.expected == wrong
    assert caught.value.computed == tree_root(leaves)

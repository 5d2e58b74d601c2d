"""RFC 6962 test vectors (google/certificate-transparency merkle_tree_test.cc) and negatives.

Verification follows RFC 9162 sections 2.1.3.2 and 2.1.4.2; the negative cases
mirror the CT verifier tests: wrong index, wrong size, wrong leaf, wrong root,
swapped roots, a changed, truncated or extended proof, and garbage in front.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evservice.audit._merkle import (
    EMPTY_ROOT,
    MemoryTree,
    reference_consistency,
    reference_inclusion,
    reference_root,
)
from evservice.audit._offline import leaf_hash, node_hash, verify_consistency, verify_inclusion

INPUTS = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
EMPTY = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

# (leaf index 0-based, tree size, path) -- the CT file numbers leaves from 1.
INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (0, 1, []),
]

CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


@pytest.fixture(scope="module")
def tree() -> MemoryTree:
    t = MemoryTree()
    for data in INPUTS:
        t.append_data(data)
    return t


def test_hashing_primitives() -> None:
    assert EMPTY_ROOT == EMPTY == hashlib.sha256(b"").digest()
    assert leaf_hash(b"") == ROOTS[0]
    assert node_hash(leaf_hash(b""), leaf_hash(b"\x00")) == ROOTS[1]


def test_roots_of_sizes_1_to_8(tree: MemoryTree) -> None:
    leaves = [leaf_hash(d) for d in INPUTS]
    assert MemoryTree().root() == EMPTY
    for size in range(1, 9):
        assert tree.root(size) == ROOTS[size - 1], size
        assert reference_root(leaves[:size]) == ROOTS[size - 1]
    assert tree.root() == ROOTS[7]


def test_roots_while_growing() -> None:
    t = MemoryTree()
    for size, data in enumerate(INPUTS, start=1):
        t.append_data(data)
        assert t.root() == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_vectors(tree: MemoryTree, index: int, size: int, path: list[str]) -> None:
    proof = tree.inclusion_proof(index, size)
    assert [p.hex() for p in proof] == path
    assert verify_inclusion(index, size, leaf_hash(INPUTS[index]), proof, ROOTS[size - 1])


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_vectors(tree: MemoryTree, old: int, new: int, path: list[str]) -> None:
    proof = tree.consistency_proof(old, new)
    assert [p.hex() for p in proof] == path
    assert verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], proof)


def _inclusion_negatives(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes):
    """Every way the CT verifier tests corrupt an inclusion proof (all must fail)."""
    yield "index - 1", (index - 1, size, leaf, proof, root)
    yield "index + 1", (index + 1, size, leaf, proof, root)
    yield "index ^ 2", (index ^ 2, size, leaf, proof, root)
    yield "size * 2", (index, size * 2, leaf, proof, root)
    yield "size // 2", (index, size // 2, leaf, proof, root)
    yield "wrong leaf", (index, size, leaf_hash(b"WrongLeaf"), proof, root)
    yield "wrong root", (index, size, leaf, proof, EMPTY)
    for j in range(len(proof)):
        changed = list(proof)
        changed[j] = EMPTY
        yield f"proof[{j}] replaced", (index, size, leaf, changed, root)
    yield "empty hash appended", (index, size, leaf, [*proof, b""], root)
    yield "root appended", (index, size, leaf, [*proof, root], root)
    if proof:
        yield "last removed", (index, size, leaf, proof[:-1], root)
    yield "garbage in front", (index, size, leaf, [b"", *proof], root)
    yield "root in front", (index, size, leaf, [root, *proof], root)


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_negatives(index: int, size: int, path: list[str]) -> None:
    proof = [bytes.fromhex(p) for p in path]
    leaf, root = leaf_hash(INPUTS[index]), ROOTS[size - 1]
    for name, args in _inclusion_negatives(index, size, leaf, proof, root):
        assert not verify_inclusion(*args), name


def test_inclusion_degenerate_cases() -> None:
    assert not verify_inclusion(0, 0, EMPTY, [], EMPTY)
    assert not verify_inclusion(1, 1, EMPTY, [], EMPTY)
    assert not verify_inclusion(2, 1, EMPTY, [], EMPTY)
    assert not verify_inclusion(-1, 1, EMPTY, [], EMPTY)
    assert not verify_inclusion(0, 1, b"short", [], b"short")


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_negatives(old: int, new: int, path: list[str]) -> None:
    proof = [bytes.fromhex(p) for p in path]
    r1, r2 = ROOTS[old - 1], ROOTS[new - 1]
    if not proof:
        return  # equal sizes: covered in test_consistency_degenerate_cases
    bad = [
        ("old - 1", (old - 1, new, r1, r2, proof)),
        ("old + 1", (old + 1, new, r1, r2, proof)),
        ("old ^ 2", (old ^ 2, new, r1, r2, proof)),
        ("new * 2", (old, new * 2, r1, r2, proof)),
        ("new // 2", (old, new // 2, r1, r2, proof)),
        ("wrong new root", (old, new, r1, b"WrongRoot", proof)),
        ("wrong old root", (old, new, b"WrongRoot", r2, proof)),
        ("swapped roots", (old, new, r2, r1, proof)),
        ("empty proof", (old, new, r1, r2, [])),
        ("empty hash appended", (old, new, r1, r2, [*proof, b""])),
        ("last repeated", (old, new, r1, r2, [*proof, proof[-1]])),
        ("last removed", (old, new, r1, r2, proof[:-1])),
        ("garbage in front", (old, new, r1, r2, [b"", *proof])),
        ("first repeated", (old, new, r1, r2, [proof[0], *proof])),
    ]
    for j in range(len(proof)):
        changed = list(proof)
        changed[j] = EMPTY
        bad.append((f"proof[{j}] replaced", (old, new, r1, r2, changed)))
    for name, args in bad:
        assert not verify_consistency(*args), name


def test_consistency_degenerate_cases() -> None:
    assert verify_consistency(0, 0, b"", b"", [])
    assert verify_consistency(0, 1, b"", b"", [])
    assert verify_consistency(1, 1, ROOTS[0], ROOTS[0], [])
    assert not verify_consistency(1, 0, b"", b"", [])  # time travel
    assert not verify_consistency(2, 1, b"", b"", [])
    assert not verify_consistency(1, 2, ROOTS[0], ROOTS[1], [])  # empty proof
    assert not verify_consistency(1, 1, ROOTS[0], ROOTS[1], [])  # roots differ
    assert not verify_consistency(0, 1, EMPTY, EMPTY, [EMPTY])  # proof must be empty
    assert not verify_consistency(1, 1, ROOTS[0], ROOTS[0], [EMPTY])


def _flip(proof: list[bytes], j: int, bit: int) -> list[bytes]:
    changed = list(proof)
    raw = bytearray(changed[j])
    raw[bit // 8] ^= 1 << (bit % 8)
    changed[j] = bytes(raw)
    return changed


@settings(max_examples=60, deadline=None)
@given(
    leaves=st.lists(st.binary(max_size=12), min_size=1, max_size=80),
    data=st.data(),
)
def test_random_trees(leaves: list[bytes], data: st.DataObject) -> None:
    """Every proof of a random tree matches the RFC recursion and verifies; a flipped bit fails."""
    t = MemoryTree()
    hashes = [leaf_hash(x) for x in leaves]
    for x in leaves:
        t.append_data(x)
    n = len(leaves)
    assert t.root() == reference_root(hashes)
    size = data.draw(st.integers(1, n), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    root = t.root(size)
    proof = t.inclusion_proof(index, size)
    assert proof == reference_inclusion(hashes[:size], index)
    assert verify_inclusion(index, size, hashes[index], proof, root)
    old = data.draw(st.integers(0, size), label="old")
    cproof = t.consistency_proof(old, size)
    assert cproof == reference_consistency(hashes[:size], old)
    assert verify_consistency(old, size, t.root(old), root, cproof)
    if proof:
        j = data.draw(st.integers(0, len(proof) - 1), label="j")
        bit = data.draw(st.integers(0, 255), label="bit")
        assert not verify_inclusion(index, size, hashes[index], _flip(proof, j, bit), root)
    if cproof:
        j = data.draw(st.integers(0, len(cproof) - 1), label="cj")
        bit = data.draw(st.integers(0, 255), label="cbit")
        assert not verify_consistency(old, size, t.root(old), root, _flip(cproof, j, bit))
    bit = data.draw(st.integers(0, 255), label="root bit")
    flipped_root = _flip([root], 0, bit)[0]
    assert not verify_inclusion(index, size, hashes[index], proof, flipped_root)
    if 0 < old < size:
        assert not verify_consistency(old, size, t.root(old), flipped_root, cproof)


def test_every_proof_of_small_trees() -> None:
    """Exhaustively: all sizes up to 40, every index and every old size."""
    t = MemoryTree()
    hashes: list[bytes] = []
    for i in range(40):
        hashes.append(leaf_hash(bytes([i])))
        t.append_data(bytes([i]))
    for size in range(1, 41):
        root = t.root(size)
        assert root == reference_root(hashes[:size])
        for index in range(size):
            proof = t.inclusion_proof(index, size)
            assert verify_inclusion(index, size, hashes[index], proof, root)
        for old in range(size + 1):
            proof = t.consistency_proof(old, size)
            assert verify_consistency(old, size, t.root(old), root, proof)

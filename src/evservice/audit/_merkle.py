"""RFC 6962 Merkle tree arithmetic over stored subtree hashes.

The log stores the hash of every *complete perfect subtree* as a node
``(level, index)``: level 0 holds the leaf hashes, and node ``(l, i)`` covers
leaves ``[i * 2**l, (i + 1) * 2**l)``. A node never changes once written, so
proofs can be served for any past size without locks.

Appending keeps a *frontier* (the perfect subtrees that make up the tree, one
per set bit of its size, largest first): a leaf writes 1 + (trailing one bits
of the size) nodes, amortised two, and reads nothing but the frontier.

Any RFC 6962 subtree hash MTH(D[a:b]) that appears in a proof is the right fold
of the perfect subtrees of its binary decomposition, so an inclusion or
consistency proof needs O(log n) node reads, fetched in one query through a
:class:`NodeSource`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from evservice.audit._offline import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash
from evservice.errors import ValidationError

__all__ = [
    "EMPTY_ROOT",
    "Frontier",
    "MemoryTree",
    "NodeKey",
    "NodeSource",
    "consistency_proof",
    "consistency_ranges",
    "inclusion_proof",
    "inclusion_ranges",
    "perfect_nodes",
    "reference_consistency",
    "reference_inclusion",
    "reference_root",
    "root_at",
]

NodeKey = tuple[int, int]  # (level, index)


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


# -- reference implementation (straight from the RFC; for tests and baselines) --------


def reference_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf *hashes*, recursively as RFC 6962 section 2.1 defines it."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def reference_inclusion(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]) over leaf hashes (RFC 6962 section 2.1.1)."""
    n = len(leaves)
    if n <= 1:
        return []
    k = _split(n)
    if index < k:
        return [*reference_inclusion(leaves[:k], index), reference_root(leaves[k:])]
    return [*reference_inclusion(leaves[k:], index - k), reference_root(leaves[:k])]


def reference_consistency(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(m, D[n]) over leaf hashes (RFC 6962 section 2.1.2)."""

    def subproof(m: int, d: Sequence[bytes], complete: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if complete else [reference_root(d)]
        k = _split(n)
        if m <= k:
            return [*subproof(m, d[:k], complete), reference_root(d[k:])]
        return [*subproof(m - k, d[k:], False), reference_root(d[:k])]

    if old_size == 0 or old_size == len(leaves):
        return []
    return subproof(old_size, leaves, True)


# -- ranges and stored nodes ---------------------------------------------------------


def perfect_nodes(start: int, end: int) -> list[NodeKey]:
    """The perfect subtrees whose right fold is MTH(D[start:end]), left to right.

    Valid for the ranges RFC 6962 proofs use: ``start`` is a multiple of the
    largest power of two not above ``end - start``.
    """
    keys: list[NodeKey] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start % (1 << level):
            raise ValueError(f"range [{start}, {end}) is not a subtree of an RFC 6962 tree")
        keys.append((level, start >> level))
        start += 1 << level
    return keys


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose hashes form the inclusion proof of ``index``, in proof order."""
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose hashes form the consistency proof ``old -> new``, in proof order."""
    if old_size == 0 or old_size == new_size:
        return []
    ranges: list[tuple[int, int]] = []
    lo, hi, m, complete = 0, new_size, old_size, True
    while True:
        if m == hi - lo:
            if not complete:
                ranges.append((lo, hi))
            break
        k = _split(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
            m -= k
            complete = False
    ranges.reverse()
    return ranges


class NodeSource(Protocol):
    """Where stored subtree hashes come from (the store, or a dict in memory)."""

    def get_nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        """The hashes of ``keys``; a missing key is simply absent from the result."""
        ...


def _fold(keys: Sequence[NodeKey], nodes: Mapping[NodeKey, bytes]) -> bytes:
    try:
        acc = nodes[keys[-1]]
        for key in reversed(keys[:-1]):
            acc = node_hash(nodes[key], acc)
    except KeyError as exc:
        raise LookupError(f"stored subtree {exc.args[0]} is missing") from exc
    return acc


def _ranges_hashes(ranges: Sequence[tuple[int, int]], source: NodeSource) -> list[bytes]:
    """Hash each range from stored nodes, fetched in a single call."""
    per_range = [perfect_nodes(a, b) for a, b in ranges]
    wanted = sorted({key for keys in per_range for key in keys})
    nodes = source.get_nodes(wanted) if wanted else {}
    return [_fold(keys, nodes) for keys in per_range]


def inclusion_proof(index: int, size: int, source: NodeSource) -> list[bytes]:
    """The RFC 6962 inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
    if not 0 <= index < size:
        raise ValidationError("index", f"must be in [0, {size}) for a tree of size {size}")
    return _ranges_hashes(inclusion_ranges(index, size), source)


def consistency_proof(old_size: int, new_size: int, source: NodeSource) -> list[bytes]:
    """The RFC 6962 consistency proof from the tree of ``old_size`` to ``new_size``."""
    if not 0 <= old_size <= new_size:
        raise ValidationError("old_size", f"must be in [0, {new_size}] (the newer size)")
    return _ranges_hashes(consistency_ranges(old_size, new_size), source)


def root_at(size: int, source: NodeSource) -> bytes:
    """MTH of the first ``size`` leaves, from at most log2(size) + 1 stored nodes."""
    if size < 0:
        raise ValidationError("size", "must not be negative")
    if size == 0:
        return EMPTY_ROOT
    return _ranges_hashes([(0, size)], source)[0]


# -- appending ---------------------------------------------------------------------


class Frontier:
    """The perfect subtrees making up a tree of ``size`` leaves, largest first.

    Serialised as the concatenation of their hashes (popcount(size) * 32 bytes).
    """

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        self.size = size
        self.hashes = list(hashes)
        if len(self.hashes) != size.bit_count() or any(len(h) != HASH_SIZE for h in self.hashes):
            raise ValueError("frontier does not match its size")

    @classmethod
    def from_bytes(cls, size: int, blob: bytes) -> Frontier:
        return cls(size, [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)])

    def to_bytes(self) -> bytes:
        return b"".join(self.hashes)

    def copy(self) -> Frontier:
        return Frontier(self.size, self.hashes)

    def keys(self) -> list[NodeKey]:
        """The node keys of the frontier's subtrees, largest first."""
        keys: list[NodeKey] = []
        start = 0
        for level in range(self.size.bit_length() - 1, -1, -1):
            if self.size >> level & 1:
                keys.append((level, start >> level))
                start += 1 << level
        return keys

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; return the nodes ``(level, index, hash)`` it completes."""
        n = self.size
        written = [(0, n, leaf)]
        acc, level, index = leaf, 0, n
        while n >> level & 1:
            acc = node_hash(self.hashes.pop(), acc)
            level += 1
            index >>= 1
            written.append((level, index, acc))
        self.hashes.append(acc)
        self.size = n + 1
        return written

    def root(self) -> bytes:
        """MTH of the whole tree."""
        if not self.hashes:
            return EMPTY_ROOT
        acc = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            acc = node_hash(h, acc)
        return acc


class MemoryTree:
    """An append-only RFC 6962 tree held in a dict: the in-memory stand-in for the store."""

    def __init__(self) -> None:
        self.nodes: dict[NodeKey, bytes] = {}
        self.frontier = Frontier()

    @property
    def size(self) -> int:
        return self.frontier.size

    def append_data(self, data: bytes) -> int:
        """Append one entry's bytes; return its index."""
        return self.append_leaf(leaf_hash(data))

    def append_leaf(self, leaf: bytes) -> int:
        index = self.frontier.size
        for level, i, h in self.frontier.append(leaf):
            self.nodes[(level, i)] = h
        return index

    def get_nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        return {k: self.nodes[k] for k in keys if k in self.nodes}

    def root(self, size: int | None = None) -> bytes:
        return self.frontier.root() if size is None else root_at(size, self)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self.size if size is None else size, self)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return consistency_proof(old_size, self.size if new_size is None else new_size, self)

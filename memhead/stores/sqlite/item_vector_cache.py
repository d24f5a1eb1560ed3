"""Item vectors held in memory, per tenant, for exact cosine search with numpy.

Reading 100,000 vectors out of SQLite takes far longer than scoring them, so a tenant's
vectors are read once into normalised float32 matrices and kept in a cache bounded in bytes.
Each matrix is sorted by namespace: the items under a prefix are one slice of it (the range
``item_rows.prefix_sql`` describes), so a search scores only them, without a copy.

The cache never has to be told of a change, even by another process: vectors are never
updated, only added (with a growing ``vseq``) or deleted. A search first asks for the
tenant's highest ``vseq`` and reads only the rows above the cached one, as one more chunk;
deleted rows stay in the cache until the next full read and are dropped when a search loads
its hits (only rows whose ``vseq`` still exists are returned).

Searches read on several reader threads (``readers``), each in its own snapshot, so they share
the cache under a lock. A snapshot older than the cache (its highest ``vseq`` below the
cached one) uses the cache as it is: ``vseq`` numbers are never handed out twice, so the cache
holds every vector that snapshot can see, and the rows it cannot see are dropped on loading as
deleted ones are.
"""

from __future__ import annotations

import sqlite3
import threading
from bisect import bisect_left
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from memhead.errors import EmbeddingMismatch
from memhead.models import Namespace
from memhead.stores.sqlite.item_rows import ABOVE_SEPARATOR, encode

Matrix = npt.NDArray[np.float32]

MAX_CHUNKS = 8
"""Chunks of a tenant kept apart before they are merged into one (a copy of the matrix)."""
STALE_SHARE = 4
"""A full read replaces the cache once more than 1/``STALE_SHARE`` of its rows are deleted."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """Vectors sorted by their namespace (``ns`` as stored), with their ``vseq``."""

    ns: list[str]
    vseqs: npt.NDArray[np.int64]
    matrix: Matrix

    def under(self, prefix: Namespace) -> tuple[int, int]:
        """The slice of rows whose namespace is under ``prefix``."""
        if not prefix:
            return 0, len(self.ns)
        p = encode(prefix)
        return bisect_left(self.ns, p), bisect_left(self.ns, p + ABOVE_SEPARATOR)


@dataclass(slots=True)
class TenantVectors:
    upto: int  # the highest vseq read
    chunks: list[Chunk]

    @property
    def rows(self) -> int:
        return sum(len(c.ns) for c in self.chunks)

    @property
    def nbytes(self) -> int:
        return sum(c.matrix.nbytes for c in self.chunks)


def _sorted_chunk(ns: list[str], vseqs: list[int], matrix: Matrix) -> Chunk:
    order = sorted(range(len(ns)), key=ns.__getitem__)
    return Chunk([ns[i] for i in order], np.asarray(vseqs, dtype=np.int64)[order], matrix[order])


def read_chunk(conn: sqlite3.Connection, tenant: str, after: int) -> tuple[int, Chunk]:
    """The tenant's vectors with ``vseq > after`` and the highest ``vseq`` among them."""
    found = conn.execute(
        "SELECT v.vseq, i.ns, v.vector FROM item_vectors v JOIN items i ON i.id = v.item "
        "WHERE v.tenant = :tenant AND v.vseq > :after ORDER BY v.vseq",
        {"tenant": tenant, "after": after},
    ).fetchall()
    if not found:
        return after, Chunk([], np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32))
    sizes = {len(row[2]) for row in found}
    if len(sizes) != 1:
        raise EmbeddingMismatch(f"stored item vectors of several dimensions: {sorted(sizes)}")
    matrix = np.frombuffer(b"".join(row[2] for row in found), dtype=np.float32)
    matrix = matrix.reshape(len(found), sizes.pop() // 4)
    return found[-1][0], _sorted_chunk([r[1] for r in found], [r[0] for r in found], matrix)


def read_all(conn: sqlite3.Connection, tenant: str) -> TenantVectors:
    upto, chunk = read_chunk(conn, tenant, 0)
    return TenantVectors(upto, [chunk] if chunk.ns else [])


def _merged(chunks: list[Chunk]) -> Chunk:
    ns = [n for c in chunks for n in c.ns]
    vseqs = [int(v) for c in chunks for v in c.vseqs]
    return _sorted_chunk(ns, vseqs, np.vstack([c.matrix for c in chunks]))


class ItemVectorCache:
    """The vectors of recently searched tenants, bounded in bytes (least recent out first)."""

    def __init__(self, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, TenantVectors] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conn: sqlite3.Connection, tenant: str) -> list[Chunk]:
        """The tenant's vectors as of ``conn``'s snapshot (reading only what was added since
        last time), perhaps with some it cannot see (see above)."""
        newest = conn.execute(
            "SELECT coalesce(max(vseq), 0) FROM item_vectors WHERE tenant = :tenant",
            {"tenant": tenant},
        ).fetchone()[0]
        with self._lock:
            return self._get(conn, tenant, newest)

    def _get(self, conn: sqlite3.Connection, tenant: str, newest: int) -> list[Chunk]:
        entry = self._entries.pop(tenant, None)
        if entry is None:
            entry = read_all(conn, tenant)
        elif newest > entry.upto:
            entry = self._extended(conn, tenant, entry)
        self._entries[tenant] = entry
        self._evict()
        return entry.chunks

    def _extended(
        self, conn: sqlite3.Connection, tenant: str, entry: TenantVectors
    ) -> TenantVectors:
        upto, chunk = read_chunk(conn, tenant, entry.upto)
        live = conn.execute(
            "SELECT count(*) FROM item_vectors WHERE tenant = :tenant", {"tenant": tenant}
        ).fetchone()[0]
        chunks = [*entry.chunks, chunk]
        dims = {c.matrix.shape[1] for c in chunks}
        rows = entry.rows + len(chunk.ns)
        if len(dims) > 1 or rows - live > live // STALE_SHARE:
            return read_all(conn, tenant)
        if len(chunks) > MAX_CHUNKS:
            chunks = [_merged(chunks)]
        return TenantVectors(upto, chunks)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _evict(self) -> None:
        total = sum(e.nbytes for e in self._entries.values())
        while total > self.max_bytes and len(self._entries) > 1:
            _, evicted = self._entries.popitem(last=False)
            total -= evicted.nbytes

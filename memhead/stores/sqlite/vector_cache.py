"""Message vectors held in memory for exact cosine search with numpy: one contiguous,
normalised float32 matrix per search scope (a tenant, a user, a session), in a cache bounded in
bytes (least recently used out first) and shared by the reader threads.

Reading 100,000 vectors out of SQLite takes far longer than scoring them, so a scope's
matrix is read once and then kept current cheaply. The sessions' ``vectors`` counters (bumped
with every vector stored, in the same transaction, by any process) are the signature of what
a scope holds: a session whose counter grew gives only its new rows (message ids above the
highest one read, which the embedding backlog's ``ORDER BY id`` makes the usual case; when
their number does not add up, the scope is read again), appended in place to a matrix with
spare room (capacity doubling). Rows already handed to a search are never written again, so a
search scores its view while another appends. A session gone from the scope (deleted, moved
to another user), or another embedding space (a reindex) means a full read.

A search whose snapshot is older than the cached matrix (a counter below the cached one) uses
the matrix as it is: it holds only committed vectors, and the search's exact SQL conditions
decide which of its hits exist.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]
Ids = npt.NDArray[np.int64]
ScopeKey = tuple[str, str | None, str | None]
"""``(tenant, user id, session id)`` of a search scope."""
Space = tuple[str, int] | None


@dataclass(slots=True)
class ScopeVectors:
    """The vectors of a scope's sessions: ``rows`` of ``matrix`` (and ``ids``) are in use."""

    space: Space
    counts: dict[int, int] = field(default_factory=dict)  # sid -> vectors read
    last_id: dict[int, int] = field(default_factory=dict)  # sid -> highest message id read
    ids: Ids = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    matrix: Matrix = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    rows: int = 0

    @property
    def nbytes(self) -> int:
        return int(self.matrix.nbytes + self.ids.nbytes)

    def view(self) -> tuple[Ids, Matrix]:
        return self.ids[: self.rows], self.matrix[: self.rows]

    def append(self, sid: int, ids: list[int], blobs: list[bytes]) -> None:
        if ids:
            vectors = _matrix(blobs)
            if self.rows + len(ids) > len(self.ids) or vectors.shape[1] != self.matrix.shape[1]:
                self._grow(self.rows + len(ids), vectors.shape[1])
            self.matrix[self.rows : self.rows + len(ids)] = vectors
            self.ids[self.rows : self.rows + len(ids)] = ids
            self.rows += len(ids)
            self.last_id[sid] = max(self.last_id.get(sid, 0), ids[-1])
        self.counts[sid] = self.counts.get(sid, 0) + len(ids)

    def _grow(self, needed: int, dim: int) -> None:
        if self.rows and dim != self.matrix.shape[1]:
            raise ValueError("vectors of different dimensions in one scope")
        capacity = max(needed, 2 * len(self.ids), 64)
        matrix = np.empty((capacity, dim), dtype=np.float32)
        ids = np.empty(capacity, dtype=np.int64)
        if self.rows:
            matrix[: self.rows] = self.matrix[: self.rows]
            ids[: self.rows] = self.ids[: self.rows]
        self.matrix, self.ids = matrix, ids  # views handed out keep the old buffers


def _matrix(blobs: list[bytes]) -> Matrix:
    """Stored vectors (normalised float32 bytes, all of one length) as the rows of a matrix."""
    flat = np.frombuffer(b"".join(blobs), dtype=np.float32)
    return flat.reshape(len(blobs), -1)


def _read(conn: sqlite3.Connection, sid: int, after: int) -> tuple[list[int], list[bytes]]:
    found = conn.execute(
        "SELECT id, vector FROM vectors WHERE sid = :sid AND id > :after ORDER BY id",
        {"sid": sid, "after": after},
    ).fetchall()
    return [r[0] for r in found], [r[1] for r in found]


def load(conn: sqlite3.Connection, space: Space, counts: Mapping[int, int]) -> ScopeVectors:
    """A scope read whole: every vector of its sessions."""
    entry = ScopeVectors(space)
    for sid in counts:
        entry.append(sid, *_read(conn, sid, 0))
    return entry


def catch_up(conn: sqlite3.Connection, entry: ScopeVectors, counts: Mapping[int, int]) -> bool:
    """Append the sessions' new vectors to ``entry``; False when a full read is needed."""
    if any(sid not in counts for sid in entry.counts):
        return False  # a session left the scope
    for sid, count in counts.items():
        have = entry.counts.get(sid, 0)
        if count <= have:
            continue  # current, or this snapshot is older than the matrix
        ids, blobs = _read(conn, sid, entry.last_id.get(sid, 0))
        if len(ids) != count - have:
            return False  # stored out of id order, or removed and added again
        entry.append(sid, ids, blobs)
    return True


class VectorCache:
    """Scope matrices of recent searches, bounded in bytes; a lock around each lookup, so
    one scope is read once however many searches ask for it at the same time."""

    def __init__(self, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[ScopeKey, ScopeVectors] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(
        self, conn: sqlite3.Connection, key: ScopeKey, space: Space, counts: Mapping[int, int]
    ) -> tuple[Ids, Matrix]:
        """The ``(message ids, matrix)`` of the scope's vectors, current with ``counts``
        (``sid -> vectors``, read in the caller's snapshot)."""
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is not None:
                self._bytes -= entry.nbytes
                if entry.space != space or not catch_up(conn, entry, counts):
                    entry = None
            if entry is None:
                entry = load(conn, space, counts)
            self._put(key, entry)
            return entry.view()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def _put(self, key: ScopeKey, entry: ScopeVectors) -> None:
        self._entries[key] = entry
        self._bytes += entry.nbytes
        while self._bytes > self.max_bytes and len(self._entries) > 1:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.nbytes

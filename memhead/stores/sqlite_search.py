"""Search in the SQLite store: FTS5 (BM25) for keywords, exact cosine with numpy for vectors.

Vectors of a session are read once into a normalised float32 matrix and kept in a bounded
cache; the session's ``vectors`` counter (bumped with every vector stored, by any process)
tells whether a cached matrix is still complete.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from memhead.errors import EmbeddingMismatch
from memhead.models import Message, PendingEmbedding, SearchScope, SessionKey
from memhead.retrieval import bm25_call, match_expression

Matrix = npt.NDArray[np.float32]
MESSAGE_COLUMNS = "m.seq, m.role, m.content, m.created_at, m.client_id, m.metadata"


def scope_sql(scope: SearchScope) -> tuple[str, list[Any]]:
    """The WHERE conditions (on ``s`` sessions and ``m`` messages) that confine a search."""
    sql = "s.tenant = ?"
    args: list[Any] = [scope.tenant]
    if scope.session_id is not None:
        sql += " AND s.id = ?"
        args.append(scope.session_id)
    if scope.user_id is not None:
        sql += " AND s.user_id = ?"
        args.append(scope.user_id)
    if scope.since is not None:
        sql += " AND m.created_at >= ?"
        args.append(scope.since)
    if scope.until is not None:
        sql += " AND m.created_at < ?"
        args.append(scope.until)
    if scope.roles:
        sql += f" AND m.role IN ({','.join('?' * len(scope.roles))})"
        args.extend(scope.roles)
    return sql, args


def keyword_search(
    conn: sqlite3.Connection, scope: SearchScope, terms: Sequence[str], limit: int
) -> list[tuple[str, tuple[Any, ...], float]]:
    expression = match_expression(terms)
    if expression is None:
        return []
    where, args = scope_sql(scope)
    rows = conn.execute(
        f"SELECT s.id, {MESSAGE_COLUMNS}, {bm25_call('messages_fts')} AS rank FROM messages_fts "
        "JOIN messages m ON m.id = messages_fts.rowid JOIN sessions s ON s.sid = m.sid "
        f"WHERE messages_fts MATCH ? AND {where} ORDER BY rank LIMIT ?",
        (expression, *args, limit),
    ).fetchall()
    return [(r[0], tuple(r[1:7]), -float(r[7])) for r in rows]


@dataclass(frozen=True, slots=True)
class SessionVectors:
    count: int
    ids: npt.NDArray[np.int64]  # message row ids
    matrix: Matrix  # normalised rows


class VectorCache:
    """Normalised vector matrices of recently searched sessions, bounded in bytes."""

    def __init__(self, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[int, SessionVectors] = OrderedDict()
        self._bytes = 0

    def get(self, conn: sqlite3.Connection, sid: int, count: int) -> SessionVectors:
        cached = self._entries.get(sid)
        if cached is not None and cached.count == count:
            self._entries.move_to_end(sid)
            return cached
        rows = conn.execute("SELECT id, vector FROM vectors WHERE sid = ? ORDER BY id", (sid,))
        ids, blobs = [], []
        for row_id, blob in rows:
            ids.append(row_id)
            blobs.append(np.frombuffer(blob, dtype=np.float32))
        matrix = np.vstack(blobs) if blobs else np.zeros((0, 1), dtype=np.float32)
        entry = SessionVectors(count, np.asarray(ids, dtype=np.int64), matrix)
        self._put(sid, entry)
        return entry

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def _put(self, sid: int, entry: SessionVectors) -> None:
        old = self._entries.pop(sid, None)
        if old is not None:
            self._bytes -= old.matrix.nbytes
        self._entries[sid] = entry
        self._bytes += entry.matrix.nbytes
        while self._bytes > self.max_bytes and len(self._entries) > 1:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.matrix.nbytes


def vector_search(
    conn: sqlite3.Connection,
    cache: VectorCache,
    scope: SearchScope,
    vector: Sequence[float],
    limit: int,
) -> list[tuple[str, tuple[Any, ...], float]]:
    query = np.asarray(vector, dtype=np.float32)
    query /= max(float(np.linalg.norm(query)), 1e-12)
    where = "tenant = ?" + (" AND id = ?" if scope.session_id is not None else "")
    where += " AND user_id = ?" if scope.user_id is not None else ""
    args = [scope.tenant, *(x for x in (scope.session_id, scope.user_id) if x is not None)]
    sessions = conn.execute(
        f"SELECT sid, vectors FROM sessions WHERE {where} AND vectors > 0", args
    ).fetchall()
    best_ids: list[npt.NDArray[np.int64]] = []
    best_scores: list[Matrix] = []
    filtered = scope.since is not None or scope.until is not None or bool(scope.roles)
    take = limit * 4 if filtered else limit
    for sid, count in sessions:
        entry = cache.get(conn, sid, count)
        if entry.matrix.shape[1] != query.shape[0]:
            raise EmbeddingMismatch(
                f"query vector has {query.shape[0]} dimensions, stored vectors "
                f"{entry.matrix.shape[1]}"
            )
        scores = entry.matrix @ query
        top = np.argsort(-scores)[:take]
        best_ids.append(entry.ids[top])
        best_scores.append(scores[top])
    if not best_ids:
        return []
    ids = np.concatenate(best_ids)
    scores = np.concatenate(best_scores)
    order = np.argsort(-scores)[:take]
    return _load_hits(conn, scope, [int(i) for i in ids[order]], [float(x) for x in scores[order]])[
        :limit
    ]


def _load_hits(
    conn: sqlite3.Connection, scope: SearchScope, ids: list[int], scores: list[float]
) -> list[tuple[str, tuple[Any, ...], float]]:
    if not ids:
        return []
    where, args = scope_sql(scope)
    rows = conn.execute(
        f"SELECT m.id, s.id, {MESSAGE_COLUMNS} FROM messages m JOIN sessions s ON s.sid = m.sid "
        f"WHERE m.id IN ({','.join('?' * len(ids))}) AND {where}",
        (*ids, *args),
    ).fetchall()
    by_id = {r[0]: r for r in rows}
    score_of = dict(zip(ids, scores, strict=True))
    return [(by_id[i][1], tuple(by_id[i][2:8]), score_of[i]) for i in ids if i in by_id]


def fetch(
    conn: sqlite3.Connection, tenant: str, positions: Sequence[tuple[str, int]]
) -> list[tuple[str, tuple[Any, ...]]]:
    """Messages at ``(session id, seq)`` positions, in the order asked; missing ones skipped."""
    found: dict[tuple[str, int], tuple[Any, ...]] = {}
    by_session: dict[str, list[int]] = {}
    for session_id, seq in positions:
        by_session.setdefault(session_id, []).append(seq)
    for session_id, seqs in by_session.items():
        rows = conn.execute(
            f"SELECT m.seq, {MESSAGE_COLUMNS} FROM messages m JOIN sessions s ON s.sid = m.sid "
            f"WHERE s.tenant = ? AND s.id = ? AND m.seq IN ({','.join('?' * len(seqs))})",
            (tenant, session_id, *seqs),
        ).fetchall()
        for row in rows:
            found[(session_id, row[0])] = tuple(row[1:])
    return [(p[0], found[p]) for p in positions if p in found]


def embedding_backlog(conn: sqlite3.Connection, limit: int) -> list[tuple[Any, ...]]:
    return conn.execute(
        f"SELECT s.tenant, s.id, s.sid, {MESSAGE_COLUMNS} FROM messages m "
        "JOIN sessions s ON s.sid = m.sid WHERE m.embedded = 0 ORDER BY m.id LIMIT ?",
        (limit,),
    ).fetchall()


def pending(row: tuple[Any, ...], message: Message) -> PendingEmbedding:
    return PendingEmbedding(SessionKey(row[0], row[1]), str(row[2]), message)


def store_vectors(
    conn: sqlite3.Connection,
    items: Sequence[tuple[PendingEmbedding, Sequence[float]]],
    model: str,
) -> None:
    """Write vectors in one transaction (the caller holds it)."""
    if not items:
        return
    dims = {len(v) for _, v in items}
    if len(dims) != 1:
        raise EmbeddingMismatch(f"vectors of different dimensions in one batch: {sorted(dims)}")
    dim = dims.pop()
    _check_space(conn, model, dim)
    for item, vector in items:
        sid = int(item.incarnation)
        row = conn.execute(
            "SELECT id FROM messages WHERE sid = ? AND seq = ? AND embedded = 0",
            (sid, item.message.seq),
        ).fetchone()
        if row is None:
            continue  # deleted meanwhile, or embedded by another worker
        blob = np.asarray(vector, dtype=np.float32)
        blob /= max(float(np.linalg.norm(blob)), 1e-12)
        conn.execute(
            "INSERT INTO vectors (id, sid, vector) VALUES (?, ?, ?)", (row[0], sid, blob.tobytes())
        )
        conn.execute("UPDATE messages SET embedded = 1 WHERE id = ?", (row[0],))
        conn.execute("UPDATE sessions SET vectors = vectors + 1 WHERE sid = ?", (sid,))


def _check_space(conn: sqlite3.Connection, model: str, dim: int) -> None:
    row = conn.execute("SELECT model, dimensions FROM embedding_space").fetchone()
    if row is None:
        conn.execute(
            "INSERT INTO embedding_space (only, model, dimensions) VALUES (1, ?, ?)", (model, dim)
        )
        return
    if (row[0], row[1]) != (model, dim):
        raise EmbeddingMismatch(
            f"this store holds vectors of {row[0]} ({row[1]} dimensions); the embedder is "
            f"{model} ({dim} dimensions). Use the same model, or a new store."
        )


CHECKS = (
    (
        "session {} ({}): seqs are not 1..{} (count {}, max {})",
        "SELECT s.tenant, s.id, s.last_seq, count(m.id), coalesce(max(m.seq), 0) "
        "FROM sessions s LEFT JOIN messages m ON m.sid = s.sid GROUP BY s.sid "
        "HAVING count(m.id) != s.last_seq OR coalesce(max(m.seq), 0) != s.last_seq",
    ),
    (
        "session {} ({}): upto_seq {} > last_seq {}",
        "SELECT tenant, id, upto_seq, last_seq FROM sessions WHERE upto_seq > last_seq",
    ),
    (
        "session {} ({}): lease half set (owner {!r}, until {})",
        "SELECT tenant, id, lease_owner, lease_until FROM sessions "
        "WHERE (lease_owner IS NULL) != (lease_until IS NULL)",
    ),
    (
        "{} messages belong to no session",
        "SELECT count(*) FROM messages WHERE sid NOT IN (SELECT sid FROM sessions) "
        "HAVING count(*) > 0",
    ),
    (
        "{} vectors belong to no message",
        "SELECT count(*) FROM vectors WHERE id NOT IN (SELECT id FROM messages) "
        "HAVING count(*) > 0",
    ),
    (
        "{} keyword rows belong to no message",
        "SELECT count(*) FROM messages_fts WHERE rowid NOT IN (SELECT id FROM messages) "
        "HAVING count(*) > 0",
    ),
    (
        "{} messages have no keyword row",
        "SELECT count(*) FROM messages WHERE id NOT IN (SELECT rowid FROM messages_fts) "
        "HAVING count(*) > 0",
    ),
    (
        "{} messages marked embedded have no vector",
        "SELECT count(*) FROM messages WHERE embedded = 1 "
        "AND id NOT IN (SELECT id FROM vectors) HAVING count(*) > 0",
    ),
)


def check(conn: sqlite3.Connection) -> list[str]:
    """Every invariant violation, as readable lines."""
    return [message.format(*row) for message, sql in CHECKS for row in conn.execute(sql).fetchall()]

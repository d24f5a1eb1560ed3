"""The ``SearchIndex`` role on SQLite: FTS5 (BM25) for keywords, confined to the scope by its
token (``scope_tokens``), and exact cosine with numpy over the scope's one matrix of vectors
(``vector_cache``) for vectors. The exact SQL conditions of the scope (``scope_sql``) decide
every hit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np

import memhead.stores.sqlite.rows as rows
from memhead.errors import EmbeddingMismatch
from memhead.models import Hit, SearchScope
from memhead.retrieval import BM25_WEIGHTS, match_expression
from memhead.stores.sqlite.embedding import embedding_space
from memhead.stores.sqlite.rows import JOINED_MESSAGE_COLUMNS
from memhead.stores.sqlite.scope_tokens import TERM_COLUMNS, scoped_match
from memhead.stores.sqlite.vector_cache import VectorCache

RANK = f"bm25(messages_fts, {', '.join(repr(w) for w in (*BM25_WEIGHTS, 0.0))})"
"""``retrieval.bm25_call`` with weight 0 for the ``scope`` column (lower is better)."""


def in_list(name: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """Named placeholders for an ``IN (...)`` list: ``(:name0,:name1)`` and their values."""
    names = [f"{name}{i}" for i in range(len(values))]
    return "(" + ",".join(f":{n}" for n in names) + ")", dict(zip(names, values, strict=True))


def scope_sql(scope: SearchScope) -> tuple[str, dict[str, Any]]:
    """The WHERE conditions (on ``s`` sessions and ``m`` messages) that confine a search."""
    sql = "s.tenant = :scope_tenant"
    args: dict[str, Any] = {"scope_tenant": scope.tenant}
    if scope.session_id is not None:
        sql += " AND s.id = :scope_session"
        args["scope_session"] = scope.session_id
    if scope.user_id is not None:
        sql += " AND s.user_id = :scope_user"
        args["scope_user"] = scope.user_id
    if scope.since is not None:
        sql += " AND m.created_at >= :scope_since"
        args["scope_since"] = scope.since
    if scope.until is not None:
        sql += " AND m.created_at < :scope_until"
        args["scope_until"] = scope.until
    if scope.roles:
        roles, role_args = in_list("scope_role", scope.roles)
        sql += f" AND m.role IN {roles}"
        args |= role_args
    return sql, args


BROAD_SHARE = 0.5
"""A user holding at least this share of the store's messages is searched by the terms alone
first: walking the user's scope token costs more than ranking the few other users' matches."""


def keyword_search(
    conn: sqlite3.Connection, scope: SearchScope, terms: Sequence[str], limit: int
) -> list[Hit]:
    """The best ``limit`` matches in scope. Ranking every match is what a search costs (FTS5
    computes bm25() for each), so the ranking reads the keyword index alone, and the rows
    are then loaded by id with the scope's exact conditions. The ranked list is confined by
    the scope's token, or, for a scope that is most of the store, by nothing: then its best
    rows are all in scope or the search is made again with the token. Time and role filters
    are not in the index: those searches join while they rank."""
    expression = match_expression(terms)
    if expression is None:
        return []
    if scope.since is None and scope.until is None and not scope.roles:
        if _broad(conn, scope):
            hits = _ranked(conn, scope, f"{TERM_COLUMNS} : ({expression})", limit)
            if hits is not None:
                return hits
        hits = _ranked(conn, scope, scoped_match(scope, expression), limit)
        if hits is not None:
            return hits
    return _joined(conn, scope, scoped_match(scope, expression), limit)


def _broad(conn: sqlite3.Connection, scope: SearchScope) -> bool:
    """Whether the scope is most of the store: a tenant, or a user with most messages."""
    if scope.session_id is not None:
        return False
    if scope.user_id is None:
        return True
    (held,) = conn.execute(
        "SELECT coalesce(sum(last_seq), 0) FROM sessions WHERE tenant = :t AND user_id = :u",
        {"t": scope.tenant, "u": scope.user_id},
    ).fetchone()
    (top,) = conn.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()
    return bool(top) and held >= BROAD_SHARE * top


def _ranked(
    conn: sqlite3.Connection, scope: SearchScope, expression: str, limit: int
) -> list[Hit] | None:
    """The best ``limit`` rows of the index for ``expression``, loaded in scope; None when
    one of them is not in scope (another tenant's or user's, or a token's collision)."""
    found = conn.execute(
        f"SELECT rowid, {RANK} AS rank FROM messages_fts WHERE messages_fts MATCH :expression "
        "ORDER BY rank LIMIT :limit",
        {"expression": expression, "limit": limit},
    ).fetchall()
    hits = _load_hits(conn, scope, [r[0] for r in found], [-float(r[1]) for r in found])
    return hits if len(hits) == len(found) else None


def _joined(conn: sqlite3.Connection, scope: SearchScope, expression: str, limit: int) -> list[Hit]:
    where, args = scope_sql(scope)
    found = conn.execute(
        f"SELECT s.id, {JOINED_MESSAGE_COLUMNS}, {RANK} AS rank "
        "FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
        "JOIN sessions s ON s.sid = m.sid "
        f"WHERE messages_fts MATCH :expression AND {where} ORDER BY rank LIMIT :limit",
        {"expression": expression, **args, "limit": limit},
    ).fetchall()
    return [Hit(r[0], rows.message(r[1:7]), -float(r[7])) for r in found]


def _scoped_sessions(conn: sqlite3.Connection, scope: SearchScope) -> dict[int, int]:
    """``sid -> vector count`` of the sessions in scope that hold vectors."""
    where = "tenant = :tenant"
    where += " AND id = :session" if scope.session_id is not None else ""
    where += " AND user_id = :user" if scope.user_id is not None else ""
    args = {"tenant": scope.tenant, "session": scope.session_id, "user": scope.user_id}
    found = conn.execute(
        f"SELECT sid, vectors FROM sessions WHERE {where} AND vectors > 0", args
    ).fetchall()
    return {int(sid): int(count) for sid, count in found}


def vector_search(
    conn: sqlite3.Connection,
    cache: VectorCache,
    scope: SearchScope,
    vector: Sequence[float],
    limit: int,
) -> list[Hit]:
    counts = _scoped_sessions(conn, scope)
    if not counts:
        return []
    key = (scope.tenant, scope.user_id, scope.session_id)
    ids, matrix = cache.get(conn, key, embedding_space(conn), counts)
    query = np.asarray(vector, dtype=np.float32)
    query /= max(float(np.linalg.norm(query)), 1e-12)
    if matrix.shape[0] and matrix.shape[1] != query.shape[0]:
        raise EmbeddingMismatch(
            f"query vector has {query.shape[0]} dimensions, stored vectors {matrix.shape[1]}"
        )
    filtered = scope.since is not None or scope.until is not None or bool(scope.roles)
    take = min(limit * 4 if filtered else limit, matrix.shape[0])
    if take <= 0:
        return []
    scores = matrix @ query
    top = np.argpartition(-scores, take - 1)[:take]
    top = top[np.argsort(-scores[top], kind="stable")]
    hits = _load_hits(conn, scope, [int(i) for i in ids[top]], [float(x) for x in scores[top]])
    return hits[:limit]


def _load_hits(
    conn: sqlite3.Connection, scope: SearchScope, ids: list[int], scores: list[float]
) -> list[Hit]:
    if not ids:
        return []
    where, args = scope_sql(scope)
    id_list, id_args = in_list("id", ids)
    found = conn.execute(
        # CROSS JOIN keeps messages first: by the user's sessions, SQLite would walk every
        # message of the scope (80 ms at 100k) to find these few.
        f"SELECT m.id, s.id, {JOINED_MESSAGE_COLUMNS} FROM messages m "
        f"CROSS JOIN sessions s ON s.sid = m.sid WHERE m.id IN {id_list} AND {where}",
        id_args | args,
    ).fetchall()
    by_id = {r[0]: r for r in found}
    score_of = dict(zip(ids, scores, strict=True))
    return [Hit(by_id[i][1], rows.message(by_id[i][2:8]), score_of[i]) for i in ids if i in by_id]


def fetch(conn: sqlite3.Connection, tenant: str, positions: Sequence[tuple[str, int]]) -> list[Hit]:
    """Messages at ``(session id, seq)`` positions, in the order asked; missing ones skipped."""
    found: dict[tuple[str, int], Hit] = {}
    by_session: dict[str, list[int]] = {}
    for session_id, seq in positions:
        by_session.setdefault(session_id, []).append(seq)
    for session_id, seqs in by_session.items():
        seq_list, seq_args = in_list("seq", seqs)
        for row in conn.execute(
            f"SELECT {JOINED_MESSAGE_COLUMNS} FROM messages m JOIN sessions s ON s.sid = m.sid "
            f"WHERE s.tenant = :tenant AND s.id = :id AND m.seq IN {seq_list}",
            {"tenant": tenant, "id": session_id, **seq_args},
        ).fetchall():
            found[(session_id, row[0])] = Hit(session_id, rows.message(row), 0.0)
    return [found[p] for p in positions if p in found]


def similarities(
    conn: sqlite3.Connection,
    tenant: str,
    positions: Sequence[tuple[str, int]],
    vector: Sequence[float],
) -> list[float | None]:
    """Cosine similarities of ``vector`` to the stored (normalised) vectors at positions."""
    if not positions:
        return []
    query = np.asarray(vector, dtype=np.float32)
    query /= max(float(np.linalg.norm(query)), 1e-12)
    found: dict[tuple[str, int], float] = {}
    by_session: dict[str, list[int]] = {}
    for session_id, seq in positions:
        by_session.setdefault(session_id, []).append(seq)
    for session_id, seqs in by_session.items():
        seq_list, seq_args = in_list("seq", seqs)
        for seq, blob in conn.execute(
            "SELECT m.seq, v.vector FROM messages m JOIN sessions s ON s.sid = m.sid "
            "JOIN vectors v ON v.id = m.id "
            f"WHERE s.tenant = :tenant AND s.id = :id AND m.seq IN {seq_list}",
            {"tenant": tenant, "id": session_id, **seq_args},
        ).fetchall():
            stored = np.frombuffer(blob, dtype=np.float32)
            if stored.shape[0] != query.shape[0]:
                raise EmbeddingMismatch(
                    f"query vector has {query.shape[0]} dimensions, stored vectors "
                    f"{stored.shape[0]}"
                )
            found[(session_id, int(seq))] = float(stored @ query)
    return [found.get(p) for p in positions]

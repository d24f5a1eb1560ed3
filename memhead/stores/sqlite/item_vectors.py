"""The vectors of memory items on SQLite: the embedding backlog of items (indexed items with
``embedded = 0``), storing their vectors in the store's one embedding space (shared with
messages, ``embedding``), and exact cosine search over them (``item_vector_cache``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from memhead.errors import EmbeddingMismatch
from memhead.items.filters import matches
from memhead.models import ItemHit, ItemKey, JSONObject, Namespace, PendingItemEmbedding, now_ms
from memhead.stores.sqlite.batches import writing
from memhead.stores.sqlite.embedding import check_space, embedding_space, normalised
from memhead.stores.sqlite.item_rows import ITEM_COLUMNS, LIVE, decode, encode, item, scope_sql
from memhead.stores.sqlite.item_vector_cache import ItemVectorCache

FIRST_CANDIDATES = 16
"""Candidates loaded beyond twice the limit; more (four times as many each round) only when
the filter, expiry or deletions leave the page short."""


def item_embedding_backlog(conn: sqlite3.Connection, limit: int) -> list[PendingItemEmbedding]:
    found = conn.execute(
        # The partial index items_unembedded picks the batch; each text is then one rowid
        # lookup. (A join that starts from items_fts scans the whole keyword table: 255 ms a
        # poll at 100,000 items, holding the store's thread.)
        "SELECT i.id, i.tenant, i.ns, i.key, "
        "(SELECT f.text FROM items_fts f WHERE f.rowid = i.id) FROM items i "
        f"WHERE i.indexed = 1 AND i.embedded = 0 AND {LIVE} ORDER BY i.id LIMIT :limit",
        {"now": now_ms(), "limit": limit},
    ).fetchall()
    return [PendingItemEmbedding(ItemKey(r[1], decode(r[2]), r[3]), str(r[0]), r[4]) for r in found]


def store_item_vectors(
    conn: sqlite3.Connection,
    pairs: Sequence[tuple[PendingItemEmbedding, Sequence[float]]],
    model: str,
) -> None:
    """Write vectors in one transaction; a pair whose revision is gone is skipped."""
    if not pairs:
        return
    dims = {len(v) for _, v in pairs}
    if len(dims) != 1:
        raise EmbeddingMismatch(f"vectors of different dimensions in one batch: {sorted(dims)}")
    with writing(conn):
        check_space(conn, model, dims.pop())
        for pending, vector in pairs:
            _store_vector(conn, pending, vector)


def _store_vector(
    conn: sqlite3.Connection, pending: PendingItemEmbedding, vector: Sequence[float]
) -> None:
    if not pending.revision.isdigit():
        return  # not a revision of this store
    ids = {
        "id": int(pending.revision),
        "tenant": pending.key.tenant,
        "ns": encode(pending.key.namespace),
        "key": pending.key.key,
    }
    row = conn.execute(
        "SELECT id FROM items WHERE id = :id AND tenant = :tenant AND ns = :ns AND key = :key "
        "AND indexed = 1 AND embedded = 0",
        ids,
    ).fetchone()
    if row is None:
        return  # replaced, deleted, or embedded by another worker meanwhile
    conn.execute(
        "INSERT INTO item_vectors (item, tenant, vector) VALUES (:id, :tenant, :vector)",
        {**ids, "vector": normalised(vector).tobytes()},
    )
    conn.execute("UPDATE items SET embedded = 1 WHERE id = :id", ids)


def _check_dimension(conn: sqlite3.Connection, query: npt.NDArray[np.float32]) -> None:
    space = embedding_space(conn)
    if space is not None and space[1] != query.shape[0]:
        raise EmbeddingMismatch(
            f"query vector has {query.shape[0]} dimensions, stored vectors {space[1]}"
        )


def _scored(
    conn: sqlite3.Connection,
    cache: ItemVectorCache,
    tenant: str,
    prefix: Namespace,
    query: npt.NDArray[np.float32],
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """The cosine similarity of every cached vector under ``prefix``, with its ``vseq``."""
    scores, vseqs = [], []
    for chunk in cache.get(conn, tenant):
        if chunk.matrix.shape[1] != query.shape[0]:
            raise EmbeddingMismatch(
                f"query vector has {query.shape[0]} dimensions, stored vectors "
                f"{chunk.matrix.shape[1]}"
            )
        low, high = chunk.under(prefix)
        scores.append(chunk.matrix[low:high] @ query)
        vseqs.append(chunk.vseqs[low:high])
    if not scores:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    return np.concatenate(scores), np.concatenate(vseqs)


def _best(scores: npt.NDArray[np.float32], n: int) -> npt.NDArray[np.intp]:
    """Indexes of the ``n`` highest scores, best first, ties by index: the first ``n`` of one
    order, so that a longer list (a later round) extends a shorter one. A partition finds the
    ``n``-th score; only the scores above it and the first ties are sorted."""
    if n >= len(scores):
        return np.argsort(-scores, kind="stable")
    kth = len(scores) - n
    threshold = scores[np.argpartition(scores, kth)[kth]]
    above = np.flatnonzero(scores > threshold)
    ties = np.flatnonzero(scores == threshold)[: n - len(above)]
    top = np.union1d(above, ties)  # ascending: the stable sort keeps ties by index
    return top[np.argsort(-scores[top], kind="stable")]


def item_vector_search(
    conn: sqlite3.Connection,
    cache: ItemVectorCache,
    query_args: tuple[str, Namespace, Sequence[float]],
    filter: JSONObject | None,
    now: int,
    limit: int,
) -> list[ItemHit]:
    tenant, prefix, vector = query_args
    query = normalised(vector)
    _check_dimension(conn, query)
    scores, vseqs = _scored(conn, cache, tenant, prefix, query)
    where, args = scope_sql(tenant, prefix, now)
    hits: list[ItemHit] = []
    done, n = 0, min(len(scores), 2 * limit + FIRST_CANDIDATES)
    while done < n and len(hits) < limit:
        batch = _best(scores, n)[done:n]
        hits += _load(conn, (where, args), vseqs[batch], scores[batch], filter)
        done, n = n, min(len(scores), 4 * n)
    return hits[:limit]


def _load(
    conn: sqlite3.Connection,
    scope: tuple[str, dict[str, Any]],
    vseqs: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float32],
    filter: JSONObject | None,
) -> list[ItemHit]:
    """The live items of the candidates whose vector still exists, in the candidates' order."""
    where, args = scope
    found = conn.execute(
        # CROSS JOIN: from the candidates to their rows, never from the tenant's items.
        f"SELECT v.vseq, {ITEM_COLUMNS} FROM json_each(:vseqs) j "
        "CROSS JOIN item_vectors v ON v.vseq = j.value CROSS JOIN items i ON i.id = v.item "
        f"WHERE {where}",
        {**args, "vseqs": orjson.dumps(vseqs.tolist()).decode()},
    ).fetchall()
    by_vseq = {row[0]: item(row[1:]) for row in found}
    return [
        ItemHit(by_vseq[v], float(s))
        for v, s in zip(vseqs.tolist(), scores.tolist(), strict=True)
        if v in by_vseq and matches(by_vseq[v].value, filter)
    ]

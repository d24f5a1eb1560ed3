"""The ``SearchIndex`` role on Redis: keyword and vector queries over ``indexes``, and plain
reads of messages by position.

Scope: one TAG filter: the user's (``user_tag``, kept current by ``user_tags`` when a
session's user changes), the session's or the tenant's; each value names its tenant too.

Keyword scores: the engine has no per-field BM25 weights (a term's frequency counts over all
fields of a document), and RediSearch 2.10 ignores a clause's ``$weight`` in the score. A
union does add up the scores of the clauses a document matches, so a search is one query, a
union of one filtered clause per term and field, ``((@text:t1) F) | ((@context:t1) F) | ...``,
each field's clause repeated ``FIELD_REPEATS`` times (its weight). One clause per term: with
``@text:(t1|t2) F`` the engine scores a document by its first matching term only. The filter
clauses score too (TAG fields count as terms), about alike for every document.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import memhead.stores.redis.fields as f
from memhead.errors import EmbeddingMismatch
from memhead.models import Hit, SearchScope, SessionKey
from memhead.stores.redis.fields import MESSAGE_FIELDS, Db
from memhead.stores.redis.indexes import Indexes
from memhead.stores.redis.text import (
    match_terms,
    normalised,
    search_tag,
    weighted_query,
)

FIELD_REPEATS = (("text", 2), ("context", 1), ("day", 1))
"""How many times each keyword field's clause is in a query: its weight (see the module
docstring). ``retrieval.BM25_WEIGHTS`` (1, 0.35, 0.5) as repeats: 2:1:1 measured best on
LoCoMo (keyword recall@10 67.9; 3:1:1 67.0, 3:1:2 67.2, 6:2:3 67.0, 1:1:1 63.3; the three
queries summed with BM25_WEIGHTS before it 65.9)."""

Document = tuple[bytes, float, dict[bytes, bytes]]
"""A document of an ``FT.SEARCH`` reply: key, score, returned fields."""


def _documents(reply: Any, *, scores: bool) -> list[Document]:
    """The documents of an ``FT.SEARCH`` reply, RESP3 or RESP2, skipping ones gone meanwhile."""
    if isinstance(reply, dict):
        docs = [
            (r[b"id"], float(r.get(b"score", 0)), r.get(b"extra_attributes", {}))
            for r in reply[b"results"]
        ]
    else:
        stride = 3 if scores else 2
        docs = [
            (
                reply[i],
                float(reply[i + 1]) if scores else 0.0,
                dict(zip(reply[i + stride - 1][::2], reply[i + stride - 1][1::2], strict=True)),
            )
            for i in range(1, len(reply), stride)
        ]
    return [doc for doc in docs if b"session" in doc[2]]


def _filters(scope: SearchScope) -> str:
    """The query clauses confining a search to ``scope``: one TAG (user, session or tenant;
    each value names its tenant), then time and roles."""
    clauses = []
    if scope.user_id is None and scope.session_id is None:
        clauses.append(f"@tenant_tag:{{{search_tag(scope.tenant)}}}")
    if scope.user_id is not None:
        clauses.append(f"@user_tag:{{{search_tag(scope.tenant, scope.user_id)}}}")
    if scope.session_id is not None:
        clauses.append(f"@session_tag:{{{search_tag(scope.tenant, scope.session_id)}}}")
    if scope.since is not None or scope.until is not None:
        low = "-inf" if scope.since is None else str(scope.since)
        high = "+inf" if scope.until is None else f"({scope.until}"
        clauses.append(f"@created_at:[{low} {high}]")
    if scope.roles:
        clauses.append("@role_tag:{" + "|".join(search_tag(r) for r in scope.roles) + "}")
    return " ".join(clauses)


async def keyword_search(
    db: Db, indexes: Indexes, scope: SearchScope, terms: Sequence[str], limit: int
) -> list[Hit]:
    words = match_terms(terms)
    if not words or limit <= 0:
        return []
    query = weighted_query(FIELD_REPEATS, words, _filters(scope))
    reply = await indexes.ft(
        *("FT.SEARCH", db.keys.search_index(), query),
        *("WITHSCORES", "SCORER", indexes.scorer),
        *("RETURN", len(MESSAGE_FIELDS) + 1, "session", *MESSAGE_FIELDS),
        *("LIMIT", 0, limit, "DIALECT", 2),
    )
    return [
        Hit(
            fields[b"session"].decode(),
            f.message([fields.get(name.encode()) for name in MESSAGE_FIELDS]),
            score,
        )
        for _, score, fields in _documents(reply, scores=True)
    ]


async def vector_search(
    db: Db, indexes: Indexes, scope: SearchScope, vector: Sequence[float], limit: int
) -> list[Hit]:
    space = await indexes.stored_space()
    if space is None or limit <= 0:
        return []  # no vector stored yet
    if len(vector) != space.dimensions:
        raise EmbeddingMismatch(
            f"query vector has {len(vector)} dimensions, stored vectors {space.dimensions}"
        )
    await indexes.ensure_vector_index(space)
    reply = await indexes.ft(
        *("FT.SEARCH", db.keys.vector_index(space.dimensions)),
        f"({_filters(scope)})=>[KNN {limit} @vector $vector AS distance]",
        *("PARAMS", 2, "vector", normalised(vector), "SORTBY", "distance"),
        *("RETURN", 3, "session", "seq", "distance", "LIMIT", 0, limit, "DIALECT", 2),
    )
    nearest = [
        (fields[b"session"].decode(), int(fields[b"seq"]), 1.0 - float(fields[b"distance"]))
        for _, _, fields in _documents(reply, scores=False)
    ]
    hits = await fetch(db, scope.tenant, [(session_id, seq) for session_id, seq, _ in nearest])
    score_of = {(session_id, seq): score for session_id, seq, score in nearest}
    return [Hit(h.session_id, h.message, score_of[(h.session_id, h.message.seq)]) for h in hits]


async def fetch(db: Db, tenant: str, positions: Sequence[tuple[str, int]]) -> list[Hit]:
    """Plain reads of the message hashes: no query engine needed."""
    async with db.client.pipeline(transaction=False) as pipe:
        for session_id, seq in positions:
            pipe.hmget(db.keys.message(SessionKey(tenant, session_id), seq), MESSAGE_FIELDS)
        found: list[f.Fields] = await pipe.execute()
    return [
        Hit(session_id, f.message(fields), 0.0)
        for (session_id, _), fields in zip(positions, found, strict=True)
        if fields[0] is not None  # deleted meanwhile
    ]


async def similarities(
    db: Db, tenant: str, positions: Sequence[tuple[str, int]], vector: Sequence[float]
) -> list[float | None]:
    """Plain reads of the vector hashes (stored normalised), one pipeline."""
    if not positions:
        return []
    async with db.client.pipeline(transaction=False) as pipe:
        for session_id, seq in positions:
            pipe.hget(db.keys.vector(SessionKey(tenant, session_id), seq), "vector")
        found: list[bytes | None] = await pipe.execute()
    query = np.asarray(vector, dtype=np.float32)
    query /= max(float(np.linalg.norm(query)), 1e-12)
    out: list[float | None] = []
    for blob in found:
        if blob is None:
            out.append(None)
            continue
        stored = np.frombuffer(blob, dtype=np.float32)
        if stored.shape[0] != query.shape[0]:
            raise EmbeddingMismatch(
                f"query vector has {query.shape[0]} dimensions, stored vectors {stored.shape[0]}"
            )
        out.append(float(stored @ query))
    return out

"""The ``SearchIndex`` role on Redis: keyword and vector queries over ``indexes``, and plain
reads of messages by position.

A user scope is resolved to the user's sessions (the user listing zset) and searched as a
union of session tags. A message hash does not carry its session's user: ``put_session`` may
change the user of a session with any number of messages, and rewriting each of them would
re-index each (and re-insert each vector into the HNSW graph) in one blocking script.

Keyword scores: the engine has no per-field BM25 weights (a term's frequency counts over all
fields of a document), so a search is one query per field, all sent in one round trip, and a
message scores the ``retrieval.BM25_WEIGHTS``-weighted sum of its per-field BM25 scores. Each
query is a union of one filtered intersection per term, ``((@text:t1) F) | ((@text:t2) F)``:
with ``@text:(t1|t2) F`` RediSearch 2.10 scores a document by its first matching term only.
The filter clauses score too (TAG fields count as terms, favouring short documents), so the
text clause is weighted by ``TEXT_SCALE`` and the score divided by it again, which leaves the
filters' share negligible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np

import memhead.stores.redis.fields as f
from memhead.errors import EmbeddingMismatch
from memhead.models import Hit, SearchScope, SessionKey
from memhead.retrieval import BM25_WEIGHTS
from memhead.stores.redis.fields import MESSAGE_FIELDS, Db
from memhead.stores.redis.indexes import KEYWORD_FIELDS, Indexes
from memhead.stores.redis.keyspace import session_id_of_member
from memhead.stores.redis.text import (
    TEXT_SCALE,
    keyword_query,
    match_terms,
    normalised,
    search_tag,
)

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


def _weighted(replies: Sequence[Any], limit: int) -> list[Hit]:
    """The best ``limit`` documents of the per-field replies by weighted sum of scores."""
    scores: dict[bytes, float] = {}
    fields_of: dict[bytes, dict[bytes, bytes]] = {}
    for weight, reply in zip(BM25_WEIGHTS, replies, strict=True):
        for key, score, fields in _documents(reply, scores=True):
            scores[key] = scores.get(key, 0.0) + weight * score / TEXT_SCALE
            fields_of[key] = fields
    best = sorted(scores, key=lambda key: -scores[key])[:limit]
    return [
        Hit(
            fields_of[k][b"session"].decode(),
            f.message([fields_of[k].get(name.encode()) for name in MESSAGE_FIELDS]),
            scores[k],
        )
        for k in best
    ]


async def _sessions(db: Db, scope: SearchScope) -> list[str] | None:
    """The sessions a scope names (None: every session of the tenant)."""
    if scope.user_id is None:
        return None if scope.session_id is None else [scope.session_id]
    listing = await db.client.zrange(db.keys.user(scope.tenant, scope.user_id), 0, -1)
    ids = [session_id_of_member(m) for m in cast(list[bytes], listing)]
    if scope.session_id is not None:
        return [scope.session_id] if scope.session_id in ids else []
    return ids


async def _filters(db: Db, scope: SearchScope) -> str | None:
    """The query clauses confining a search to ``scope``; None when nothing is in scope."""
    sessions = await _sessions(db, scope)
    if sessions is None:
        clauses = [f"@tenant_tag:{{{search_tag(scope.tenant)}}}"]
    elif sessions:
        tags = "|".join(search_tag(scope.tenant, s) for s in sessions)
        clauses = [f"@session_tag:{{{tags}}}"]
    else:
        return None
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
    filters = await _filters(db, scope)
    if not words or filters is None or limit <= 0:
        return []
    async with db.client.pipeline(transaction=False) as pipe:
        for field in KEYWORD_FIELDS:
            pipe.execute_command(
                *("FT.SEARCH", db.keys.search_index(), keyword_query(field, words, filters)),
                *("WITHSCORES", "SCORER", indexes.scorer),
                *("RETURN", len(MESSAGE_FIELDS) + 1, "session", *MESSAGE_FIELDS),
                *("LIMIT", 0, limit, "DIALECT", 2),
            )
        replies: list[Any] = await pipe.execute()
    return _weighted(replies, limit)


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
    filters = await _filters(db, scope)
    if filters is None:
        return []
    await indexes.ensure_vector_index(space)
    reply = await indexes.ft(
        *("FT.SEARCH", db.keys.vector_index(space.dimensions)),
        f"({filters})=>[KNN {limit} @vector $vector AS distance]",
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

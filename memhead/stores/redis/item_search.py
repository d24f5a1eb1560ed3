"""Keyword and vector search of memory items on Redis.

The query engine picks candidates by scope (one TAG match, ``item_records``) and relevance;
each candidate's record is then read in one round trip and kept when it is live and passes
the filter. Expiry is checked on the record, not in the query: the keyword entries and vectors
carry no expiry, so that refreshing one (every read may) never re-indexes text or re-inserts a
vector. A page short of ``limit`` after that check is filled by asking for more candidates
(keyword: the next results; vector: a wider KNN), until the engine has no more.

A vector search first asks for the nearest vectors of the whole index and keeps those in
scope: when the scope is most of the index, that is all it takes, and it is the fast case of
the engine's HNSW graph (with a TAG filter, RediSearch 2.10 picks a brute-force scan of every
vector in scope once ``k`` is past about 40: 100 nearest of 100,000 took 150-250 ms, against
2-5 ms unfiltered). Only when that leaves the page short does it ask for the nearest in scope,
which is then a small part of the index and so a quick scan.

Keyword queries are built and scored as the messages' (``search``, ``text``): folded terms,
one clause per term, BM25 (``indexes.scorer``) with the scope clause's share divided out.

A filter's equality conditions on scalars are pushed down as TAG clauses (``item_filters``)
next to the scope: in the keyword query, in the vector query's scope, and checked on the
first, unscoped, nearest vectors as the scope is. ``filters.matches`` still judges each
candidate read back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memhead.errors import EmbeddingMismatch
from memhead.models import ItemHit, JSONObject, Namespace
from memhead.stores.redis.fields import Db
from memhead.stores.redis.indexes import Indexes
from memhead.stores.redis.item_filters import admits, clauses
from memhead.stores.redis.item_records import scope_tag
from memhead.stores.redis.items import ft, passes, records
from memhead.stores.redis.replies import Row, rows
from memhead.stores.redis.text import TEXT_SCALE, keyword_query, match_terms, normalised

MIN_CANDIDATES = 50
"""Candidates asked for at least when a filter may drop some."""
GROWTH = 4


@dataclass(frozen=True, slots=True)
class Wanted:
    """What a search keeps: items passing ``filter`` (of whose equality conditions
    ``pushed`` holds the tokens the engine checks), live at ``now``, at most ``limit``."""

    filter: JSONObject | None
    pushed: list[str]
    now: int
    limit: int


def _first_batch(limit: int, filter: JSONObject | None) -> int:
    return max(limit * GROWTH, MIN_CANDIDATES) if filter else limit


async def _kept(db: Db, found: Sequence[Row], filter: JSONObject | None, now: int) -> list[ItemHit]:
    """The hits among ``found``: the live ones passing ``filter``."""
    items = await records(db, [name for name, _, _ in found])
    return [
        ItemHit(item, score)
        for item, (_, score, _) in zip(items, found, strict=True)
        if item is not None and passes(item, filter, now)
    ]


async def item_keyword_search(
    db: Db,
    indexes: Indexes,
    tenant: str,
    prefix: Namespace,
    terms: Sequence[str],
    wanted: Wanted,
) -> list[ItemHit]:
    words, filter, now, limit = match_terms(terms), wanted.filter, wanted.now, wanted.limit
    if not words or limit <= 0:
        return []
    scope = f"@scope_tag:{{{scope_tag(tenant, prefix)}}} {clauses(wanted.pushed)}"
    query = keyword_query("text", words, scope)
    hits: list[ItemHit] = []
    start, batch = 0, _first_batch(limit, filter)
    while True:
        reply = await ft(
            db,
            *("FT.SEARCH", db.keys.item_text_index(), query, "WITHSCORES"),
            *("SCORER", indexes.scorer, "NOCONTENT", "LIMIT", start, batch, "DIALECT", 2),
        )
        found = [
            (name, score / TEXT_SCALE, fields)
            for name, score, fields in rows(reply, scores=True, content=False)
        ]
        hits += await _kept(db, found, filter, now)
        if len(hits) >= limit or len(found) < batch:
            return hits[:limit]
        start, batch = start + batch, batch * GROWTH


async def item_vector_search(
    db: Db,
    indexes: Indexes,
    tenant: str,
    prefix: Namespace,
    vector: Sequence[float],
    wanted: Wanted,
) -> list[ItemHit]:
    filter, now, limit = wanted.filter, wanted.now, wanted.limit
    space = await indexes.stored_space()
    if space is None or limit <= 0:
        return []  # no vector stored yet
    if len(vector) != space.dimensions:
        raise EmbeddingMismatch(
            f"query vector has {len(vector)} dimensions, stored vectors {space.dimensions}"
        )
    await indexes.ensure_vector_index(space)
    index, blob = db.keys.item_vector_index(space.dimensions), normalised(vector)
    tag = scope_tag(tenant, prefix)
    k = _first_batch(limit, filter)
    wide = max(k * GROWTH, MIN_CANDIDATES)
    found = await _nearest(db, index, "*", blob, wide)
    in_scope = [
        row
        for row in found
        if tag.encode() in _tags(row) and admits(wanted.pushed, row[2].get(b"filter_tag", b""))
    ]
    hits = await _kept(db, in_scope[:k], filter, now)
    if len(hits) >= limit or (len(found) < wide and len(in_scope) <= k):
        return hits[:limit]
    while True:
        scope = f"@scope_tag:{{{tag}}} {clauses(wanted.pushed)}"
        found = await _nearest(db, index, scope, blob, k)
        hits = await _kept(db, found, filter, now)
        if len(hits) >= limit or len(found) < k:
            return hits[:limit]
        k *= GROWTH


def _tags(row: Row) -> list[bytes]:
    return row[2].get(b"scope_tag", b"").split(b",")


async def _nearest(db: Db, index: str, scope: str, blob: bytes, k: int) -> list[Row]:
    """The ``k`` nearest vectors in ``scope``, scored by cosine similarity."""
    reply = await ft(
        db,
        *("FT.SEARCH", index, f"({scope})=>[KNN {k} @vector $vector AS distance]"),
        *("PARAMS", 2, "vector", blob, "SORTBY", "distance"),
        *("RETURN", 3, "distance", "scope_tag", "filter_tag", "LIMIT", 0, k, "DIALECT", 2),
    )
    return [(name, 1.0 - float(fields[b"distance"]), fields) for name, _, fields in rows(reply)]

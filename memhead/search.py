"""Retrieval use case: keyword, vector and hybrid search over stored messages.

The store finds candidates (BM25 over each message's keyword row, exact or HNSW cosine);
``memhead.retrieval`` ranks them with pure functions. Hybrid (measured on LoCoMo, see
``memhead.retrieval``): both candidate lists fused by reciprocal rank, scores spread to the
neighbouring messages of a session, candidates fetched, the speaker the query names boosted.
The keyword half and the vector half (the query's vector, from the process's cache of query
vectors or the embedder, then the vector search) run at once, beside the read of the stored
vectors' model (``memhead.query_embeddings``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from memhead import retrieval
from memhead.errors import InvalidRequest
from memhead.models import Hit, SearchScope
from memhead.providers.base import Embedder
from memhead.query_embeddings import QueryEmbeddings
from memhead.stores.roles import EmbeddingQueue, SearchIndex

Mode = Literal["hybrid", "vector", "keyword"]
T = TypeVar("T")
MAX_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Result:
    hit: Hit
    score: float
    """Higher is better; comparable within one search."""
    distance: float
    """Lower is better (Motörhead's ``dist``): the cosine distance (1 - cosine similarity, in
    [0, 2]) between the query's vector and the message's stored vector when both are known
    (see ``distances``); else ``vectorless_distance`` of the score, in [0.5, 1]."""
    retrievers: tuple[str, ...]
    """Which lists found it: ``keyword``, ``vector``; ``context`` when only its neighbours did."""


def vectorless_distance(score: float, best: float) -> float:
    """The distance of a hit without a vector: ``1 - 0.5 * score / best``, with ``best`` the
    best score of its search. The best match gets 0.5, worse ones tend to 1; a cosine
    distance says more, so this never claims to be closer than half-way."""
    if best <= 0:
        return 1.0
    return min(max(1.0 - 0.5 * max(score, 0.0) / best, 0.5), 1.0)


class SearchStore(SearchIndex, EmbeddingQueue, Protocol):
    """What search uses: the index, and the recorded embedding model to check queries by."""


class SearchService:
    """Message search for one store. ``queries`` embeds the queries (give every service of
    the process the same one, so they share its cache); by default none is cached."""

    def __init__(
        self,
        store: SearchStore,
        embedder: Embedder | None,
        queries: QueryEmbeddings | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.queries = queries if queries is not None else QueryEmbeddings()

    def effective_mode(self, mode: Mode) -> Mode:
        """Hybrid without an embedder is keyword search; vector without one is an error."""
        if self.embedder is not None:
            return mode
        if mode == "vector":
            raise InvalidRequest("vector search needs an embedder: set MEMHEAD_EMBED_MODEL")
        return "keyword"

    async def search(
        self,
        scope: SearchScope,
        query: str,
        *,
        mode: Mode = "hybrid",
        limit: int = 10,
        distances: bool = False,
    ) -> list[Result]:
        """Best first. With ``distances`` (and an embedder), every hit with a stored vector
        gets its cosine distance to the query, whichever list found it (one more round trip;
        in keyword mode, the query is embedded for it)."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(f"limit must be between 1 and {MAX_LIMIT}")
        mode = self.effective_mode(mode)
        if not query.strip():
            return []
        vector: list[float] | None
        found: list[Found]
        if mode == "keyword":
            hits, vector = await self._keyword_and_vector(scope, query, limit, distances)
            found = [(h, h.score, ("keyword",)) for h in hits]
        elif mode == "vector":
            vector, hits = await self._vector(scope, query, limit)
            found = [(h, h.score, ("vector",)) for h in hits]
        else:
            vector, found = await self._hybrid(scope, query, limit)
        # A hit the vector list found has its cosine similarity as its score.
        known = {_position(h): h.score for h, _, how in found if "vector" in how}
        if distances and vector is not None:
            await self._similarities(scope.tenant, [h for h, _, _ in found], vector, known)
        best = max((score for _, score, _ in found), default=0.0)
        return [
            Result(h, score, _distance(known.get(_position(h)), score, best), how)
            for h, score, how in found
        ]

    async def _similarities(
        self, tenant: str, hits: Sequence[Hit], vector: Sequence[float], known: dict[Pos, float]
    ) -> None:
        """Fill ``known`` with the similarity of each hit that has a stored vector."""
        asked = [p for p in map(_position, hits) if p not in known]
        if not asked:
            return
        for position, similarity in zip(
            asked, await self.store.similarities(tenant, asked, vector), strict=True
        ):
            if similarity is not None:
                known[position] = similarity

    async def _searched(
        self, query: str, search: Callable[[list[float]], Awaitable[T]]
    ) -> tuple[list[float], T] | None:
        assert self.embedder is not None
        return await self.queries.searched(self.store, self.embedder, query, search)

    async def _query_vector(self, query: str) -> list[float] | None:
        """The query's vector, to measure distances with; ``None`` without stored vectors."""
        checked = await self._searched(query, _nothing)
        return None if checked is None else checked[0]

    async def _keyword(self, scope: SearchScope, query: str, depth: int) -> list[Hit]:
        return await self.store.keyword_search(scope, retrieval.query_terms(query), depth)

    async def _keyword_and_vector(
        self, scope: SearchScope, query: str, limit: int, distances: bool
    ) -> tuple[list[Hit], list[float] | None]:
        """Keyword hits, and the query's vector when ``distances`` asks for it: the two at
        once."""
        if not distances or self.embedder is None:
            return await self._keyword(scope, query, limit), None
        return await asyncio.gather(self._keyword(scope, query, limit), self._query_vector(query))

    async def _vector(
        self, scope: SearchScope, query: str, depth: int
    ) -> tuple[list[float] | None, list[Hit]]:
        async def search(vector: list[float]) -> list[Hit]:
            return await self.store.vector_search(scope, vector, depth)

        checked = await self._searched(query, search)
        return (None, []) if checked is None else checked

    async def _hybrid(
        self, scope: SearchScope, query: str, limit: int
    ) -> tuple[list[float] | None, list[Found]]:
        # The halves at once: the keyword search need not wait for the query's embedding.
        keyword, (query_vector, vector) = await asyncio.gather(
            self._keyword(scope, query, retrieval.KEYWORD_CANDIDATES),
            self._vector(scope, query, retrieval.VECTOR_CANDIDATES),
        )
        candidates = retrieval.hybrid_candidates(_positions(keyword), _positions(vector))
        known = {_position(h): h for h in (*keyword, *vector)}
        missing = [p for p, _ in candidates if p not in known]
        for hit in await self.store.fetch(scope.tenant, missing):
            if _in_scope(hit, scope):
                known[_position(hit)] = hit
        present = [(p, s) for p, s in candidates if p in known]
        speakers = {p: retrieval.speaker_of(known[p].message.content) for p, _ in present}
        ranked = retrieval.rerank(present, query, speakers)[:limit]
        found_by = _found_by(keyword, vector)
        return query_vector, [  # the vector list's hit wins in known: its score is the similarity
            (known[p], score, found_by.get(p, ("context",))) for p, score in ranked
        ]


async def _nothing(vector: list[float]) -> None:
    return None


Pos = retrieval.Position
Found = tuple[Hit, float, tuple[str, ...]]
"""A hit (its ``score`` the cosine similarity when the vector list found it), its score in
the search, and the lists that found it."""


def _distance(similarity: float | None, score: float, best: float) -> float:
    if similarity is None:
        return vectorless_distance(score, best)
    return min(max(1.0 - similarity, 0.0), 2.0)  # as Motörhead's (Redis's) COSINE distance


def _position(hit: Hit) -> retrieval.Position:
    return hit.session_id, hit.message.seq


def _positions(hits: Sequence[Hit]) -> list[tuple[retrieval.Position, float]]:
    return [(_position(h), h.score) for h in hits]


def _found_by(
    keyword: Sequence[Hit], vector: Sequence[Hit]
) -> dict[retrieval.Position, tuple[str, ...]]:
    found: dict[retrieval.Position, tuple[str, ...]] = {}
    for name, hits in (("keyword", keyword), ("vector", vector)):
        for h in hits:
            found[_position(h)] = (*found.get(_position(h), ()), name)
    return found


def _in_scope(hit: Hit, scope: SearchScope) -> bool:
    """Neighbours fetched by position must pass the scope's time and role filters too."""
    m = hit.message
    return (
        (scope.since is None or m.created_at >= scope.since)
        and (scope.until is None or m.created_at < scope.until)
        and (not scope.roles or m.role in scope.roles)
    )

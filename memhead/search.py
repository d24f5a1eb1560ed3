"""Retrieval use case: keyword, vector and hybrid search over stored messages.

The store finds candidates (BM25 over each message's keyword row, exact or HNSW cosine);
``memhead.retrieval`` ranks them with pure functions. Hybrid (measured on LoCoMo, see
``memhead.retrieval``): both candidate lists fused by reciprocal rank, scores spread to the
neighbouring messages of a session, candidates fetched, the speaker the query names boosted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from memhead import retrieval
from memhead.errors import InvalidRequest
from memhead.models import Hit, SearchScope
from memhead.providers.base import Embedder
from memhead.stores.roles import SearchIndex

Mode = Literal["hybrid", "vector", "keyword"]
MAX_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Result:
    hit: Hit
    score: float
    """Higher is better; comparable within one search."""
    distance: float
    """Lower is better, in [0, 1]: vector mode, the cosine distance; keyword mode,
    1 / (1 + BM25); hybrid, 1 / (1 + (RRF_K + 1) × fused score)."""
    retrievers: tuple[str, ...]
    """Which lists found it: ``keyword``, ``vector``; ``context`` when only its neighbours did."""


class SearchService:
    def __init__(self, store: SearchIndex, embedder: Embedder | None) -> None:
        self.store = store
        self.embedder = embedder

    def effective_mode(self, mode: Mode) -> Mode:
        """Hybrid without an embedder is keyword search; vector without one is an error."""
        if self.embedder is not None:
            return mode
        if mode == "vector":
            raise InvalidRequest("vector search needs an embedder: set MEMHEAD_EMBED_MODEL")
        return "keyword"

    async def search(
        self, scope: SearchScope, query: str, *, mode: Mode = "hybrid", limit: int = 10
    ) -> list[Result]:
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(f"limit must be between 1 and {MAX_LIMIT}")
        mode = self.effective_mode(mode)
        if not query.strip():
            return []
        if mode == "keyword":
            hits = await self._keyword(scope, query, limit)
            return [_single(h, "keyword", 1 / (1 + max(h.score, 0.0))) for h in hits]
        if mode == "vector":
            hits = await self._vector(scope, query, limit)
            return [_single(h, "vector", 1 - h.score) for h in hits]
        return await self._hybrid(scope, query, limit)

    async def _keyword(self, scope: SearchScope, query: str, depth: int) -> list[Hit]:
        return await self.store.keyword_search(scope, retrieval.query_terms(query), depth)

    async def _vector(self, scope: SearchScope, query: str, depth: int) -> list[Hit]:
        assert self.embedder is not None
        (vector,) = await self.embedder.embed([retrieval.query_text(query)])
        return await self.store.vector_search(scope, vector, depth)

    async def _hybrid(self, scope: SearchScope, query: str, limit: int) -> list[Result]:
        keyword = await self._keyword(scope, query, retrieval.KEYWORD_CANDIDATES)
        vector = await self._vector(scope, query, retrieval.VECTOR_CANDIDATES)
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
        return [
            Result(
                known[p],
                score,
                1 / (1 + (retrieval.RRF_K + 1) * score),
                found_by.get(p, ("context",)),
            )
            for p, score in ranked
        ]


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


def _single(hit: Hit, retriever: str, distance: float) -> Result:
    return Result(hit, hit.score, min(max(distance, 0.0), 1.0), (retriever,))

"""The vectors of search queries: embedded once per process for as long as they stay in a
bounded LRU cache, and compared with the stored vectors only once the store is known to hold
vectors of the same model.

One ``QueryEmbeddings`` is built by the app and shared by every search of the process
(messages, memory items, the MCP tool, which searches both with one query). It is keyed by the
embedder's model and the exact text embedded (``retrieval.query_text(query)``), so a process
can never get a vector of another model from it. Concurrent searches for one text share one
embedding call in flight; a failed or cancelled call is not cached (the next search asks
again). The cache is async-lru's (aio-libs), which does exactly that.

A vector is kept as an ``array('d')`` (8 bytes a dimension, the same float64 values the
provider gave, so results do not change with the cache): about 12 KiB for 1536 dimensions,
3 KiB for 384, plus the query's text. Every caller gets its own list: nothing shared can be
changed in place.
"""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import Awaitable, Callable, Hashable
from typing import Protocol, TypeVar

from async_lru import alru_cache

from memhead import retrieval
from memhead.embedding_space import check_query_space
from memhead.providers.base import Embedder

T = TypeVar("T")
Space = tuple[str, int] | None


class SpaceSource(Protocol):
    async def embedding_space(self) -> Space:
        """The model and dimensions of the stored vectors; ``None`` before the first."""


class QueryEmbeddings:
    """Query vectors through a bounded LRU cache of ``size`` entries (0: no cache, every
    search embeds its query)."""

    def __init__(self, size: int = 0) -> None:
        if size < 0:
            raise ValueError("size must be 0 or more")
        self.size = size
        self._cached = alru_cache(maxsize=size, key=_key)(_embedded) if size else None

    async def embed(self, embedder: Embedder, text: str) -> list[float]:
        """The vector of ``text`` by ``embedder``; ``ProviderFailure`` as ``embed`` raises it."""
        vector = await (_embedded if self._cached is None else self._cached)(embedder, text)
        return vector.tolist()

    async def searched(
        self,
        store: SpaceSource,
        embedder: Embedder,
        query: str,
        search: Callable[[list[float]], Awaitable[T]],
    ) -> tuple[list[float], T] | None:
        """The vector of the search ``query`` (``retrieval.query_text``) and ``search`` of it
        in ``store``, checked against the stored vectors' model (``checked_search``); ``None``
        when the store holds no vector yet."""
        return await checked_search(
            store.embedding_space(),
            embedder.model,
            self.embed(embedder, retrieval.query_text(query)),
            search,
        )

    async def close(self) -> None:
        """Cancel the embeddings still in flight (at shutdown, before the embedder closes)."""
        if self._cached is not None:
            await self._cached.cache_close()


async def _embedded(embedder: Embedder, text: str) -> array[float]:
    (vector,) = await embedder.embed([text])
    return array("d", vector)


def _key(embedder: Embedder, text: str) -> Hashable:
    return embedder.model, text


async def checked_search(
    space: Awaitable[Space],
    model: str,
    vector: Awaitable[list[float]],
    search: Callable[[list[float]], Awaitable[T]],
) -> tuple[list[float], T] | None:
    """The query ``vector`` and ``search(vector)``, run while the store's embedding ``space``
    is read, and returned only once the space is known to be the vector's (of ``model``);
    ``None`` when the store holds no vector yet (nothing to compare the query with).

    Another process may have reindexed the store with another model under this one; then no
    answer may come from vectors of two models compared: ``EmbeddingMismatch`` (409), whether
    or not the search itself failed on them. Reading the space is a store round trip; run
    beside the embedding and the search instead of before them, it adds to a search's
    latency only when it is the slowest of them.
    """

    async def searched() -> tuple[list[float], T | Exception]:
        query = await vector
        try:
            return query, await search(query)
        except Exception as exc:  # judged below, once the space is known
            return query, exc

    read, found = await asyncio.gather(space, searched(), return_exceptions=True)
    if isinstance(read, BaseException):
        raise read
    if read is None:
        return None
    if isinstance(found, BaseException):  # the embedding failed
        raise found
    query, result = found
    check_query_space(read, model, len(query))
    if isinstance(result, Exception):
        raise result
    return query, result

"""Long-term memory items as every surface uses them (the ``/store`` routes, MCP, the
LangGraph store over HTTP): validation, the search text of an item, TTL defaults and
refresh, and search (keyword, vector and their fusion) over the ``ItemStore`` role.

Search with a query runs the keyword half (BM25 over the item's text) and, with an embedder
and once the store holds vectors, the vector half (the query's embedding, then the vector
search, beside the check of the stored vectors' model: ``query_embeddings.checked_search``)
concurrently, each over ``retrieval.candidate_depth(offset + limit)`` candidates, fused by
reciprocal rank (``retrieval.fuse``). Items have no neighbours or speakers, so the message
pipeline's spread and rerank do not apply.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from memhead import retrieval
from memhead.items import checks, paths
from memhead.items.namespaces import Condition, literal_prefix, select
from memhead.models import Item, ItemHit, ItemKey, JSONObject, Namespace, NewItem, now_ms
from memhead.providers.base import Embedder
from memhead.query_embeddings import QueryEmbeddings
from memhead.settings_values import ItemSettings
from memhead.stores.item_roles import ItemStore
from memhead.stores.roles import EmbeddingQueue


class ItemServiceStore(ItemStore, EmbeddingQueue, Protocol):
    """What the service uses: the items, and the recorded embedding space (whether any
    vector exists yet, and of which model) to check query vectors by."""


@dataclass(frozen=True, slots=True)
class ScoredItem:
    """A search result: the item and its score (higher is better, comparable within one
    search): the fused score of a hybrid search, the cosine similarity when only vectors
    ranked, BM25 when only keywords did; ``None`` without a query."""

    item: Item
    score: float | None


Where = tuple[Namespace, str]


class ItemService:
    """The use cases of memory items for one store, tenant by tenant. Every argument is
    checked here (``memhead.items.checks``), so each surface refuses the same input with the
    same words (``InvalidRequest``)."""

    def __init__(
        self,
        store: ItemServiceStore,
        embedder: Embedder | None,
        settings: ItemSettings,
        clock: Callable[[], int] = now_ms,
        queries: QueryEmbeddings | None = None,
    ) -> None:
        """``queries`` embeds the queries (the process's shared cache); by default none is
        cached."""
        self.store = store
        self.embedder = embedder
        self.queries = queries if queries is not None else QueryEmbeddings()
        self.settings = settings
        self.clock = clock
        self.default_index = [paths.parse(p) for p in settings.index]
        self.default_ttl_ms = checks.ttl_ms(settings.ttl_minutes)

    def _key(self, tenant: str, namespace: Sequence[str], key: str) -> ItemKey:
        return ItemKey(tenant, checks.namespace(namespace), checks.key(key))

    async def put(
        self,
        tenant: str,
        namespace: Sequence[str],
        key: str,
        value: JSONObject | None,
        *,
        index: Literal[False] | Sequence[str] | None = None,
        ttl: float | None = None,
    ) -> Item | None:
        """Create or replace the item (``value`` ``None`` deletes it and returns ``None``).
        ``index``: ``False`` keeps it out of query search, a list of paths names the text
        search sees, ``None`` the server's default paths. ``ttl`` in minutes; ``None`` the
        server's default (``MEMHEAD_ITEM_TTL``)."""
        where = self._key(tenant, namespace, key)
        if value is None:
            await self.store.delete_item(where)
            return None
        content = checks.value(value, self.settings.max_bytes)
        chosen = checks.index(index)
        if chosen is False:
            text = None
        else:
            text = paths.text_of(content, self.default_index if chosen is None else chosen)
        ttl_ms = checks.ttl_ms(ttl) if ttl is not None else self.default_ttl_ms
        return await self.store.put_item(where, NewItem(content, text, ttl_ms), now=self.clock())

    async def get(
        self,
        tenant: str,
        namespace: Sequence[str],
        key: str,
        *,
        refresh_ttl: bool | None = None,
    ) -> Item | None:
        """The live item, or ``None``; ``refresh_ttl`` (default ``MEMHEAD_ITEM_REFRESH_TTL``)
        restarts its TTL."""
        where = self._key(tenant, namespace, key)
        refresh = self.settings.refresh_ttl if refresh_ttl is None else refresh_ttl
        return await self.store.get_item(where, now=self.clock(), refresh=refresh)

    async def delete(self, tenant: str, namespace: Sequence[str], key: str) -> bool:
        """Delete the item; ``False`` when there was none."""
        return await self.store.delete_item(self._key(tenant, namespace, key))

    async def search(
        self,
        tenant: str,
        namespace_prefix: Sequence[str] = (),
        *,
        query: str | None = None,
        filter: JSONObject | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
    ) -> list[ScoredItem]:
        """Items under ``namespace_prefix`` (empty: the whole tenant) passing ``filter``:
        with a ``query``, best first; without one, most recently updated first."""
        prefix = checks.namespace(namespace_prefix, "namespace_prefix", empty=True)
        text = checks.query(query)
        condition = checks.search_filter(filter)
        checks.page(limit, offset)
        now = self.clock()
        if text is None:
            items = await self.store.list_items(
                tenant, prefix, filter=condition, now=now, offset=offset, limit=limit
            )
            found = [ScoredItem(i, None) for i in items]
        else:
            ranked = await self._ranked(tenant, prefix, text, condition, now, offset + limit)
            found = ranked[offset : offset + limit]
        refresh = self.settings.refresh_ttl if refresh_ttl is None else refresh_ttl
        return await self._refreshed(tenant, found, now) if refresh else found

    async def _ranked(
        self,
        tenant: str,
        prefix: Namespace,
        query: str,
        condition: JSONObject | None,
        now: int,
        wanted: int,
    ) -> list[ScoredItem]:
        depth = retrieval.candidate_depth(wanted)
        terms = retrieval.query_terms(query)

        async def keyword() -> list[ItemHit]:
            if not terms:
                return []
            return await self.store.item_keyword_search(
                tenant, prefix, terms, filter=condition, now=now, limit=depth
            )

        found = await asyncio.gather(
            keyword(), self._vector(tenant, prefix, query, condition, now, depth)
        )
        by_keyword = _stable(found[0])
        by_vector = None if found[1] is None else _stable(found[1])
        if by_vector is None:
            return [ScoredItem(h.item, h.score) for h in by_keyword]
        if not terms:
            return [ScoredItem(h.item, h.score) for h in by_vector]
        return _fused(by_keyword, by_vector)

    async def _vector(
        self,
        tenant: str,
        prefix: Namespace,
        query: str,
        condition: JSONObject | None,
        now: int,
        depth: int,
    ) -> list[ItemHit] | None:
        """The vector half; ``None`` when there is none (no embedder, no vector stored yet).
        ``EmbeddingMismatch`` when the stored vectors are of another model."""
        if self.embedder is None:
            return None

        async def search(vector: list[float]) -> list[ItemHit]:
            return await self.store.item_vector_search(
                tenant, prefix, vector, filter=condition, now=now, limit=depth
            )

        checked = await self.queries.searched(self.store, self.embedder, query, search)
        return None if checked is None else checked[1]

    async def _refreshed(self, tenant: str, found: list[ScoredItem], now: int) -> list[ScoredItem]:
        """Restart the TTL of the returned items that have one; they show their new expiry."""
        expiring = [s for s in found if s.item.ttl_ms is not None]
        if not expiring:
            return found
        await self.store.refresh_items(
            [ItemKey(tenant, s.item.namespace, s.item.key) for s in expiring], now=now
        )
        return [_with_expiry(s, now) for s in found]

    async def list_namespaces(
        self,
        tenant: str,
        *,
        prefix: Sequence[str] | None = None,
        suffix: Sequence[str] | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Namespace]:
        """The namespaces holding live items that start with ``prefix`` and end with
        ``suffix`` (``*`` matches any one label), cut to ``max_depth`` labels, sorted."""
        conditions: list[Condition] = []
        if prefix is not None:
            conditions.append(Condition("prefix", checks.namespace(prefix, "prefix", empty=True)))
        if suffix is not None:
            conditions.append(Condition("suffix", checks.namespace(suffix, "suffix", empty=True)))
        checks.max_depth(max_depth)
        checks.page(limit, offset)
        found = await self.store.item_namespaces(
            tenant, literal_prefix(conditions), now=self.clock()
        )
        return select(found, conditions, max_depth=max_depth, offset=offset, limit=limit)


def _where(item: Item) -> Where:
    return item.namespace, item.key


def _stable(hits: Sequence[ItemHit]) -> list[ItemHit]:
    """Hits best first, equal scores by namespace and key: a store returns ties in any
    order (Redis's may differ between two calls), and pages of one query must not overlap."""
    return sorted(hits, key=lambda h: (-h.score, h.item.namespace, h.item.key))


def _fused(keyword: Sequence[ItemHit], vector: Sequence[ItemHit]) -> list[ScoredItem]:
    items = {_where(h.item): h.item for h in (*keyword, *vector)}
    fused = retrieval.fuse(
        [(_where(h.item), h.score) for h in keyword],
        [(_where(h.item), h.score) for h in vector],
    )
    return [ScoredItem(items[where], score) for where, score in fused]


def _with_expiry(found: ScoredItem, now: int) -> ScoredItem:
    ttl_ms = found.item.ttl_ms
    if ttl_ms is None:
        return found
    return ScoredItem(dataclasses.replace(found.item, expires_at=now + ttl_ms), found.score)

"""``RedisStore``'s half for the ``ItemStore`` role (``memhead.stores.item_roles`` has the
semantics): a delegation per operation to ``items``, ``item_search`` and ``item_embedding``.
The methods that take no ``now`` judge expiry by this machine's clock."""

from __future__ import annotations

from collections.abc import Sequence

import memhead.stores.redis.item_embedding as item_embedding
import memhead.stores.redis.item_filters as item_filters
import memhead.stores.redis.item_search as item_search
import memhead.stores.redis.item_upgrade as item_upgrade
import memhead.stores.redis.items as items
from memhead.models import (
    Item,
    ItemHit,
    ItemKey,
    JSONObject,
    Namespace,
    NewItem,
    PendingItemEmbedding,
    now_ms,
)
from memhead.stores.redis.connection import unavailable_as_503
from memhead.stores.redis.fields import Db
from memhead.stores.redis.indexes import Indexes


class RedisItems:
    """Mixed into ``RedisStore``, which provides ``_db`` and ``_searchable``."""

    _db: Db

    async def _searchable(self) -> Indexes:
        raise NotImplementedError  # RedisStore's

    @unavailable_as_503
    async def put_item(
        self,
        key: ItemKey,
        item: NewItem,
        *,
        now: int,
        created_at: int | None = None,
        expires_at: int | None = None,
    ) -> Item:
        return await items.put_item(self._db, key, item, now, (created_at, expires_at))

    @unavailable_as_503
    async def get_item(self, key: ItemKey, *, now: int, refresh: bool) -> Item | None:
        return await items.get_item(self._db, key, now, refresh)

    @unavailable_as_503
    async def delete_item(self, key: ItemKey) -> bool:
        return await items.delete_item(self._db, key, now_ms())

    @unavailable_as_503
    async def list_items(
        self,
        tenant: str,
        prefix: Namespace,
        *,
        filter: JSONObject | None,
        now: int,
        offset: int,
        limit: int,
    ) -> list[Item]:
        indexes = await self._searchable()
        ready = await item_upgrade.ready(self._db, indexes)
        pushed = item_filters.clauses(await self._pushed(filter)) if ready else None
        return await items.list_items(
            self._db, tenant, prefix, filter, now, (offset, limit), pushed
        )

    @unavailable_as_503
    async def item_keyword_search(
        self,
        tenant: str,
        prefix: Namespace,
        terms: Sequence[str],
        *,
        filter: JSONObject | None,
        now: int,
        limit: int,
    ) -> list[ItemHit]:
        indexes = await self._searchable()
        wanted = item_search.Wanted(filter, await self._pushed(filter), now, limit)
        return await item_search.item_keyword_search(
            self._db, indexes, tenant, prefix, terms, wanted
        )

    @unavailable_as_503
    async def item_vector_search(
        self,
        tenant: str,
        prefix: Namespace,
        vector: Sequence[float],
        *,
        filter: JSONObject | None,
        now: int,
        limit: int,
    ) -> list[ItemHit]:
        indexes = await self._searchable()
        wanted = item_search.Wanted(filter, await self._pushed(filter), now, limit)
        return await item_search.item_vector_search(
            self._db, indexes, tenant, prefix, vector, wanted
        )

    @unavailable_as_503
    async def refresh_items(self, keys: Sequence[ItemKey], *, now: int) -> None:
        await items.refresh_items(self._db, keys, now)

    @unavailable_as_503
    async def item_namespaces(self, tenant: str, prefix: Namespace, *, now: int) -> list[Namespace]:
        await self._searchable()
        return await items.item_namespaces(self._db, tenant, prefix, now)

    @unavailable_as_503
    async def sweep_expired_items(self, *, now: int, limit: int) -> int:
        await self._searchable()
        return await items.sweep_expired_items(self._db, now, limit)

    @unavailable_as_503
    async def item_embedding_backlog(self, *, limit: int) -> list[PendingItemEmbedding]:
        await self._searchable()
        return await item_embedding.item_embedding_backlog(self._db, limit, now_ms())

    @unavailable_as_503
    async def store_item_vectors(
        self, pairs: Sequence[tuple[PendingItemEmbedding, Sequence[float]]], *, model: str
    ) -> None:
        indexes = await self._searchable()
        await item_embedding.store_item_vectors(self._db, indexes, pairs, model)

    async def _pushed(self, filter: JSONObject | None) -> list[str]:
        """The filter tokens of ``filter``'s equality conditions, once every item has its
        tokens (``item_upgrade``); none until then."""
        indexes = await self._searchable()
        if not filter or not await item_upgrade.ready(self._db, indexes):
            return []
        return item_filters.pushed_tokens(filter)

    async def _pending_items(self) -> int:
        """Live items waiting for a vector (none without the query engine: nor can any be
        embedded)."""
        if not await self._has_search():
            return 0
        return await item_embedding.pending_items(self._db, now_ms())

    async def _has_search(self) -> bool:
        raise NotImplementedError  # RedisStore's

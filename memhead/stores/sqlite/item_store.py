"""``SqliteStore``'s half for the ``ItemStore`` role: a line per operation, each a function of
``items`` or ``item_vectors`` run on the store's thread, or, for the reads of a search (list,
keyword, vector, namespaces), on a reader thread (kept apart so that each module stays short,
as ``InstrumentedItems`` is)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import memhead.stores.sqlite.item_vectors as item_vectors
import memhead.stores.sqlite.items as items
from memhead.models import (
    Item,
    ItemHit,
    ItemKey,
    JSONObject,
    Namespace,
    NewItem,
    PendingItemEmbedding,
)
from memhead.stores.sqlite.item_vector_cache import ItemVectorCache

T = TypeVar("T")


class SqliteItems:
    """Mixed into ``SqliteStore``, which provides ``_run``, ``_read`` and ``_item_vectors``."""

    _item_vectors: ItemVectorCache

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError  # SqliteStore's

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError  # SqliteStore's

    async def put_item(
        self,
        key: ItemKey,
        item: NewItem,
        *,
        now: int,
        created_at: int | None = None,
        expires_at: int | None = None,
    ) -> Item:
        return await self._run(items.put_item, key, item, now, (created_at, expires_at))

    async def get_item(self, key: ItemKey, *, now: int, refresh: bool) -> Item | None:
        return await self._run(items.get_item, key, now, refresh)

    async def delete_item(self, key: ItemKey) -> bool:
        return await self._run(items.delete_item, key)

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
        return await self._read(items.list_items, tenant, prefix, filter, now, offset, limit)

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
        return await self._read(
            items.item_keyword_search, tenant, prefix, terms, filter, now, limit
        )

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
        query = (tenant, prefix, vector)
        return await self._read(
            item_vectors.item_vector_search, self._item_vectors, query, filter, now, limit
        )

    async def refresh_items(self, keys: Sequence[ItemKey], *, now: int) -> None:
        await self._run(items.refresh_items, keys, now)

    async def item_namespaces(self, tenant: str, prefix: Namespace, *, now: int) -> list[Namespace]:
        return await self._read(items.item_namespaces, tenant, prefix, now)

    async def sweep_expired_items(self, *, now: int, limit: int) -> int:
        return await self._run(items.sweep_expired_items, now, limit)

    async def item_embedding_backlog(self, *, limit: int) -> list[PendingItemEmbedding]:
        return await self._run(item_vectors.item_embedding_backlog, limit)

    async def store_item_vectors(
        self, pairs: Sequence[tuple[PendingItemEmbedding, Sequence[float]]], *, model: str
    ) -> None:
        await self._run(item_vectors.store_item_vectors, pairs, model)

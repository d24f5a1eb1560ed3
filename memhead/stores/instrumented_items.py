"""``InstrumentedStore``'s half for the ``ItemStore`` role: each item operation timed into
``Metrics.store_latency`` like every other store operation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from memhead.models import (
    Item,
    ItemHit,
    ItemKey,
    JSONObject,
    Namespace,
    NewItem,
    PendingItemEmbedding,
)
from memhead.stores.roles import Store


class _Timed(Protocol):
    def __enter__(self) -> None: ...
    def __exit__(self, *exc: Any) -> None: ...


class InstrumentedItems:
    """Mixed into ``InstrumentedStore``, which provides ``store`` and ``_timed``."""

    store: Store

    def _timed(self, operation: str) -> _Timed:
        raise NotImplementedError  # InstrumentedStore's

    async def put_item(
        self,
        key: ItemKey,
        item: NewItem,
        *,
        now: int,
        created_at: int | None = None,
        expires_at: int | None = None,
    ) -> Item:
        with self._timed("put_item"):
            return await self.store.put_item(
                key, item, now=now, created_at=created_at, expires_at=expires_at
            )

    async def get_item(self, key: ItemKey, *, now: int, refresh: bool) -> Item | None:
        with self._timed("get_item"):
            return await self.store.get_item(key, now=now, refresh=refresh)

    async def delete_item(self, key: ItemKey) -> bool:
        with self._timed("delete_item"):
            return await self.store.delete_item(key)

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
        with self._timed("list_items"):
            return await self.store.list_items(
                tenant, prefix, filter=filter, now=now, offset=offset, limit=limit
            )

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
        with self._timed("item_keyword_search"):
            return await self.store.item_keyword_search(
                tenant, prefix, terms, filter=filter, now=now, limit=limit
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
        with self._timed("item_vector_search"):
            return await self.store.item_vector_search(
                tenant, prefix, vector, filter=filter, now=now, limit=limit
            )

    async def refresh_items(self, keys: Sequence[ItemKey], *, now: int) -> None:
        with self._timed("refresh_items"):
            await self.store.refresh_items(keys, now=now)

    async def item_namespaces(self, tenant: str, prefix: Namespace, *, now: int) -> list[Namespace]:
        with self._timed("item_namespaces"):
            return await self.store.item_namespaces(tenant, prefix, now=now)

    async def sweep_expired_items(self, *, now: int, limit: int) -> int:
        with self._timed("sweep_expired_items"):
            return await self.store.sweep_expired_items(now=now, limit=limit)

    async def item_embedding_backlog(self, *, limit: int) -> list[PendingItemEmbedding]:
        with self._timed("item_embedding_backlog"):
            return await self.store.item_embedding_backlog(limit=limit)

    async def store_item_vectors(
        self, pairs: Sequence[tuple[PendingItemEmbedding, Sequence[float]]], *, model: str
    ) -> None:
        with self._timed("store_item_vectors"):
            await self.store.store_item_vectors(pairs, model=model)

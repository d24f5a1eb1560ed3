"""The store's role for long-term memory items (issue 17), kept beside ``roles`` (which
names it in ``Store``) so that each module stays short."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from memhead.models import (
    Item,
    ItemHit,
    ItemKey,
    JSONObject,
    Namespace,
    NewItem,
    PendingItemEmbedding,
)


class ItemStore(Protocol):
    """Long-term memory items (``(tenant, namespace, key) -> JSON object``): what
    ``ItemService`` (the ``/store`` routes, ``MemheadStore``, the MCP tools) and the item sweep
    and embedding use.

    An item whose ``expires_at`` is not after ``now`` is expired: no method returns it, counts
    it or lists its namespace, and ``sweep_expired_items`` deletes it. ``prefix`` arguments
    are namespace prefixes by whole labels (``("a",)`` holds ``("a",)`` and ``("a", "b")``, not
    ``("ab",)``); the empty prefix holds every namespace of the tenant. ``filter`` keeps the
    items whose value passes ``memhead.items.filters.matches`` (``None``: every item); the
    store applies it before ``offset``/``limit``, so a filtered page is full when enough
    items match.
    """

    async def put_item(
        self,
        key: ItemKey,
        item: NewItem,
        *,
        now: int,
        created_at: int | None = None,
        expires_at: int | None = None,
    ) -> Item:
        """Create or replace the item, in one atomic operation: a replace keeps
        ``created_at``, sets ``updated_at = now`` and a new revision, replaces the keyword
        entry at once (a keyword search right after sees the new text only), drops the old
        vector and queues the new text for embedding (nothing when ``text`` is ``None``).

        ``created_at`` and ``expires_at`` (an import's: ``memhead import`` keeps an item's
        times) replace the kept ``created_at`` and ``now + ttl_ms``; ``expires_at`` counts
        only for an item with a TTL."""

    async def get_item(self, key: ItemKey, *, now: int, refresh: bool) -> Item | None:
        """The live item, or ``None``. With ``refresh``, an item with a TTL gets
        ``expires_at = now + ttl_ms`` (the returned item shows it)."""

    async def delete_item(self, key: ItemKey) -> bool:
        """Delete the item with its keyword entry and vector; ``False`` when none was live."""

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
        """Live items under ``prefix`` passing ``filter``, most recently updated first (ties
        by namespace, then key), the page ``[offset, offset + limit)``."""

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
        """Live indexed items under ``prefix`` passing ``filter`` whose text matches any of
        ``terms`` (normalised words, as ``retrieval.query_terms`` gives), best first by BM25;
        ``score`` is the relevance (higher is better). Items put without text never match."""

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
        """Live items under ``prefix`` passing ``filter`` that have a vector, by cosine
        similarity to ``vector`` (the ``score``), best first. A ``vector`` of another
        dimension than the stored ones raises ``EmbeddingMismatch``."""

    async def refresh_items(self, keys: Sequence[ItemKey], *, now: int) -> None:
        """Set ``expires_at = now + ttl_ms`` on each live item of ``keys`` that has a TTL,
        in one round trip (search's ``refresh_ttl``); others are left as they are."""

    async def item_namespaces(self, tenant: str, prefix: Namespace, *, now: int) -> list[Namespace]:
        """The distinct namespaces holding at least one live item under ``prefix``, sorted
        (label by label). Conditions, depth and pages are the service's
        (``memhead.items.namespaces``)."""

    async def sweep_expired_items(self, *, now: int, limit: int) -> int:
        """Delete up to ``limit`` expired items (with their keyword entries and vectors) of
        every tenant; the number deleted. Safe to run in several processes at once."""

    async def item_embedding_backlog(self, *, limit: int) -> list[PendingItemEmbedding]:
        """Live indexed items without a vector, oldest put first."""

    async def store_item_vectors(
        self, pairs: Sequence[tuple[PendingItemEmbedding, Sequence[float]]], *, model: str
    ) -> None:
        """Store one vector per item, skipping items deleted or replaced since (another
        revision). The embedding space is the store's one (``EmbeddingQueue``): the first
        vector of either kind fixes it, and vectors of another model or dimension raise
        ``EmbeddingMismatch``; ``reset_vectors`` drops item vectors too, and
        ``embedding_backlog_size`` counts items without a vector too."""

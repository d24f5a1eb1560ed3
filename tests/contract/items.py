"""Helpers the item contract tests share: items in, keys for them, vectors for them."""

from __future__ import annotations

from memhead.models import Item, ItemKey, JSONObject, Namespace, NewItem, now_ms
from memhead.stores import Store

T = "t"
"""The tenant of the tests; ``U`` is another one that must never see ``T``'s items."""
U = "u"

ODD_LABELS = (
    "with space",
    "ünïcødé",
    "emoji 🦊🚀",
    "a/b\\c",
    "quote ' and \"",
    "100%",
    "*",
    "a*",
    "-@{}|()~!$^[]:;,<>?=&#`+",
    "'; DROP TABLE items; --",
    "NEAR OR AND NOT",
    "tag:{x} @f:[1 2]",
    "_%",
)
"""Labels holding the query syntax of SQL (LIKE), FTS5 and the Redis Query Engine."""


def key(*namespace: str, k: str = "k", tenant: str = T) -> ItemKey:
    return ItemKey(tenant, tuple(namespace), k)


async def put(
    store: Store,
    namespace: Namespace,
    k: str,
    value: JSONObject | None = None,
    *,
    text: str | None = None,
    ttl_ms: int | None = None,
    now: int = 1000,
    tenant: str = T,
) -> Item:
    item = NewItem(value if value is not None else {"k": k}, text, ttl_ms)
    return await store.put_item(ItemKey(tenant, namespace, k), item, now=now)


def keys(items: list[Item]) -> list[tuple[Namespace, str]]:
    return [(i.namespace, i.key) for i in items]


def vec(*xs: float) -> list[float]:
    return [*xs, *([0.0] * (4 - len(xs)))]


async def embed_items(store: Store, vectors: dict[str, list[float]]) -> None:
    """Give every pending item the vector named by its text."""
    backlog = await store.item_embedding_backlog(limit=1000)
    await store.store_item_vectors([(p, vectors[p.text]) for p in backlog], model="m")


def wall_now() -> int:
    """The real clock: what the methods that take no ``now`` (``delete_item``, the embedding
    backlog and its size) judge expiry by."""
    return now_ms()

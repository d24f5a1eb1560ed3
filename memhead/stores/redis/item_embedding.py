"""Memory items in the embedding queue on Redis. An item waits for a vector while its record's
``pending`` TAG is ``y`` (set by a put with text and by a reset of the vectors, cleared by the
script that stores its vector), so the backlog is a query of ``P:iidx``: the live pending
items, oldest put first. Vectors share the messages' embedding space (``indexes``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import cast

from memhead.errors import EmbeddingMismatch
from memhead.models import PendingItemEmbedding
from memhead.stores.redis.fields import Db
from memhead.stores.redis.indexes import Indexes
from memhead.stores.redis.items import ft
from memhead.stores.redis.replies import rows, total
from memhead.stores.redis.text import normalised


def _pending(now: int) -> str:
    return f"@pending:{{y}} @live_until:[({now} +inf]"


async def item_embedding_backlog(db: Db, limit: int, now: int) -> list[PendingItemEmbedding]:
    if limit <= 0:
        return []
    reply = await ft(
        db,
        *("FT.SEARCH", db.keys.item_index(), _pending(now), "SORTBY", "updated_at", "ASC"),
        *("RETURN", 1, "revision", "LIMIT", 0, limit, "DIALECT", 2),
    )
    found = [(db.keys.item_of(name), fields[b"revision"]) for name, _, fields in rows(reply)]
    async with db.client.pipeline(transaction=False) as pipe:
        for key, _ in found:
            pipe.hget(db.keys.item_text(key), "raw")
        texts = cast(list[bytes | None], await pipe.execute())
    return [
        PendingItemEmbedding(key, revision.decode(), text.decode())
        for (key, revision), text in zip(found, texts, strict=True)
        if text is not None  # deleted meanwhile
    ]


async def pending_items(db: Db, now: int) -> int:
    """How many live items wait for a vector."""
    reply = await ft(
        db,
        *("FT.SEARCH", db.keys.item_index(), _pending(now)),
        *("NOCONTENT", "LIMIT", 0, 0, "DIALECT", 2),
    )
    return total(reply)


async def store_item_vectors(
    db: Db,
    indexes: Indexes,
    pairs: Sequence[tuple[PendingItemEmbedding, Sequence[float]]],
    model: str,
) -> None:
    """Fix (first time) or check the embedding space, then store each vector atomically."""
    if not pairs:
        return
    dimensions = sorted({len(v) for _, v in pairs})
    if len(dimensions) != 1:
        raise EmbeddingMismatch(f"vectors of different dimensions in one batch: {dimensions}")
    await indexes.ensure_vector_index(await indexes.claim_space(model, dimensions[0]))
    await asyncio.gather(
        *(
            db.scripts.store_item_vector(
                keys=[db.keys.item(p.key), db.keys.item_vector(p.key)],
                args=[p.revision, normalised(vector)],
            )
            for p, vector in pairs
        )
    )


async def requeue_items(db: Db, names: Sequence[bytes]) -> None:
    """Put the items of the records ``names`` back in the backlog unless they have a vector
    (checked and set atomically by ``requeue_item``)."""
    calls = []
    for name in names:
        key = db.keys.item_of(name)
        calls.append(db.scripts.requeue_item(keys=[db.keys.item(key), db.keys.item_vector(key)]))
    await asyncio.gather(*calls)

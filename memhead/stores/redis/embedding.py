"""The ``EmbeddingQueue`` role on Redis: the backlog is the ``P:embed`` zset, kept by the
append, delete and store-vector scripts; each vector goes to a hash of its own (``indexes``
says why)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import memhead.stores.redis.fields as f
import memhead.stores.redis.item_embedding as item_embedding
from memhead.errors import EmbeddingMismatch
from memhead.models import PendingEmbedding, SessionKey
from memhead.stores.redis.fields import MESSAGE_FIELDS, Db
from memhead.stores.redis.indexes import Indexes, Space
from memhead.stores.redis.keyspace import key_of_embed_member
from memhead.stores.redis.text import normalised


async def embedding_backlog(db: Db, limit: int) -> list[PendingEmbedding]:
    if limit <= 0:
        return []
    members = await db.client.zrange(db.keys.embed(), 0, limit - 1)
    entries = [key_of_embed_member(m) for m in cast(list[bytes], members)]
    async with db.client.pipeline(transaction=False) as pipe:
        for key, seq in entries:
            # The incarnation is read before the message: a message read after its session
            # was recreated is then paired with the old incarnation, and skipped on store.
            pipe.hget(db.keys.session(key), "incarnation")
            pipe.hmget(db.keys.message(key, seq), MESSAGE_FIELDS)
        replies: list[Any] = await pipe.execute()
    return [
        PendingEmbedding(key, incarnation.decode(), f.message(fields))
        for (key, _), incarnation, fields in zip(entries, replies[::2], replies[1::2], strict=True)
        if incarnation is not None and fields[0] is not None  # deleted meanwhile
    ]


async def store_vectors(
    db: Db,
    indexes: Indexes,
    items: Sequence[tuple[PendingEmbedding, Sequence[float]]],
    model: str,
) -> None:
    """Fix (first time) or check the embedding space, then store the vectors: one script
    call per session of the batch (each atomic), all sent together."""
    if not items:
        return
    dimensions = sorted({len(v) for _, v in items})
    if len(dimensions) != 1:
        raise EmbeddingMismatch(f"vectors of different dimensions in one batch: {dimensions}")
    await indexes.ensure_vector_index(await indexes.claim_space(model, dimensions[0]))
    k = db.keys
    by_session: dict[tuple[SessionKey, str], list[bytes | str | int]] = {}
    for item, vector in items:
        key, seq = item.key, item.message.seq
        args = by_session.setdefault((key, item.incarnation), [])
        args += [seq, normalised(vector), k.embed_member(key, seq)]
    calls = [
        db.scripts.store_vectors(
            keys=[k.session(key), k.embed()],
            args=[incarnation, k.message_prefix(key), k.vector_prefix(key), *args],
        )
        for (key, incarnation), args in by_session.items()
    ]
    await asyncio.gather(*calls)  # made together, they share pipelines (batches)


SCAN_COUNT = 1000


async def embedding_space(db: Db, indexes: Indexes) -> tuple[str, int] | None:
    if await db.client.exists(db.keys.embedding_reset()):
        return None  # a reset is incomplete: ``reindex`` must run it again
    space = await indexes.read_space()
    return None if space is None else (space.model, space.dimensions)


async def embedding_backlog_size(db: Db) -> int:
    return int(await db.client.zcard(db.keys.embed()))


async def reset_vectors(db: Db, indexes: Indexes, model: str, dimensions: int) -> None:
    """Not atomic (it walks the keyspace), so marked: ``embedding_space`` reads ``None``
    until the last step, and a reindex interrupted in between resets again. The new space
    is recorded first, so that from then on only vectors of the new model are stored; the
    old ones (of messages and items) are deleted, then every message and item without a
    vector is requeued (checked and added atomically by ``requeue`` and ``requeue_item``: a
    new vector stored meanwhile is kept)."""
    k = db.keys
    await db.client.set(k.embedding_reset(), 1)
    await indexes.replace_space(Space(model, dimensions))
    for vectors in (k.vectors_index_prefix(), k.item_vectors_index_prefix()):
        async for batch in _scanned(db, vectors + "*"):
            await db.client.unlink(*batch)
    async for batch in _scanned(db, k.messages_index_prefix() + "*"):
        async with db.client.pipeline(transaction=False) as pipe:
            for name in batch:
                pipe.hmget(name, ("tenant", "session", "seq"))
            found: list[list[bytes | None]] = await pipe.execute()
        calls = []
        for t, s, seq in found:
            if t is None or s is None or seq is None:
                continue  # deleted meanwhile
            key = SessionKey(t.decode(), s.decode())
            calls.append(
                db.scripts.requeue(
                    keys=[k.message(key, int(seq)), k.vector(key, int(seq)), k.embed()],
                    args=[k.embed_member(key, int(seq))],
                )
            )
        await asyncio.gather(*calls)
    async for batch in _scanned(db, k.items_index_prefix() + "*"):
        await item_embedding.requeue_items(db, batch)
    await db.client.delete(k.embedding_reset())


async def _scanned(db: Db, match: str) -> AsyncIterator[list[bytes]]:
    """Key names matching ``match``, in lists of up to ``SCAN_COUNT``."""
    batch: list[bytes] = []
    async for name in db.client.scan_iter(match=match, count=SCAN_COUNT):
        batch.append(name)
        if len(batch) >= SCAN_COUNT:
            yield batch
            batch = []
    if batch:
        yield batch

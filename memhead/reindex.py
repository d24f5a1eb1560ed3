"""``memhead reindex``: switch the store to another embedding model.

The stored vectors of the old model are dropped (``reset_vectors``: every message and memory
item is back in the embedding backlog), then the backlog is embedded with the configured
model, batch by batch, with progress (messages first, then items). The work is the store's
backlog, so an interrupted reindex is resumed by running the command again: the store then
already records the new model (or none), and nothing is dropped twice. A server or worker
started with the new model meanwhile starts fine and helps drain the same backlog; one still
running with the old model must be restarted (its searches answer 409, its embedding fails
until then).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol, TextIO, TypeVar

from memhead.embedding import message_text
from memhead.embedding_space import known_dimension
from memhead.errors import EmbeddingMismatch, ProviderFailure
from memhead.migrate import Progress
from memhead.models import PendingItemEmbedding
from memhead.providers.base import Embedder
from memhead.stores.item_roles import ItemStore
from memhead.stores.roles import EmbeddingQueue

T = TypeVar("T")


class ReindexStore(EmbeddingQueue, ItemStore, Protocol):
    """The message and item backlogs, and the recorded embedding space."""


BATCH = 64
INTERRUPTED = 130
"""The exit status of a reindex stopped by SIGINT or SIGTERM (as a shell reports Ctrl-C)."""


async def reindex(
    store: ReindexStore,
    embedder: Embedder,
    out: TextIO,
    *,
    batch: int = BATCH,
    stop: asyncio.Event | None = None,
) -> int:
    """Reset the vectors unless the store records this model already (a reindex run again
    after an interruption), then embed the whole backlog; the exit status (1 when the
    provider or the store refused, with a line saying so; ``INTERRUPTED`` when ``stop`` was
    set, checked between batches)."""
    space = await store.embedding_space()
    try:
        dimensions = await _dimensions(embedder)
    except ProviderFailure as exc:
        print(f"memhead: reindex stopped: {exc.message}", file=out)
        return 1
    if space != (embedder.model, dimensions):
        if space is not None:
            print(f"dropping the vectors of {space[0]} ({space[1]} dimensions)", file=out)
        await store.reset_vectors(model=embedder.model, dimensions=dimensions)
    total = await store.embedding_backlog_size()
    print(f"embedding {total} messages with {embedder.model}", file=out, flush=True)
    progress = Progress(total, out, command="reindex", unit="messages")
    try:
        finished = await _embed_all(
            store.embedding_backlog,
            message_text,
            store.store_vectors,
            embedder,
            batch,
            progress,
            stop,
        ) and await _embed_all(
            store.item_embedding_backlog,
            item_text,
            store.store_item_vectors,
            embedder,
            batch,
            progress,
            stop,
        )
        if not finished:
            progress.finish()
            return INTERRUPTED
    except (ProviderFailure, EmbeddingMismatch) as exc:
        progress.finish()
        print(f"memhead: reindex stopped: {exc.message}; run it again to continue", file=out)
        return 1
    progress.finish()
    print(f"reindex done: the store holds vectors of {embedder.model}", file=out)
    return 0


def item_text(pending: PendingItemEmbedding) -> str:
    return pending.text


async def _embed_all(
    backlog_of: Callable[..., Awaitable[list[T]]],
    text_of: Callable[[T], str],
    save: Callable[..., Awaitable[None]],
    embedder: Embedder,
    batch: int,
    progress: Progress,
    stop: asyncio.Event | None,
) -> bool:
    """Embed one backlog (messages, or memory items) to the end; ``False`` when stopped."""
    while pending := await backlog_of(limit=batch):
        if stop is not None and stop.is_set():
            return False
        vectors = await embedder.embed([text_of(p) for p in pending])
        await save(list(zip(pending, vectors, strict=True)), model=embedder.model)
        progress.advance(len(pending))
    return True


async def _dimensions(embedder: Embedder) -> int:
    """The length of the new model's vectors: a provider's model tells it in an answer."""
    known = known_dimension(embedder)
    if known is not None:
        return known
    (probe,) = await embedder.embed(["memhead reindex"])
    return len(probe)

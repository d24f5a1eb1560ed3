"""``memhead reindex``: switch the store to another embedding model.

The stored vectors of the old model are dropped (``reset_vectors``: every message is back in
the embedding backlog), then the backlog is embedded with the configured model, batch by
batch, with progress. The work is the store's backlog, so an interrupted reindex is resumed
by running the command again: the store then already records the new model (or none), and
nothing is dropped twice. A server or worker started with the new model meanwhile starts
fine and helps drain the same backlog; one still running with the old model must be
restarted (its searches answer 409, its embedding fails until then).
"""

from __future__ import annotations

import asyncio
from typing import TextIO

from memhead.embedding import message_text
from memhead.embedding_space import known_dimension
from memhead.errors import EmbeddingMismatch, ProviderFailure
from memhead.migrate import Progress
from memhead.providers.base import Embedder
from memhead.stores.roles import EmbeddingQueue

BATCH = 64
INTERRUPTED = 130
"""The exit status of a reindex stopped by SIGINT or SIGTERM (as a shell reports Ctrl-C)."""


async def reindex(
    store: EmbeddingQueue,
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
        while backlog := await store.embedding_backlog(limit=batch):
            if stop is not None and stop.is_set():
                progress.finish()
                return INTERRUPTED
            vectors = await embedder.embed([message_text(p) for p in backlog])
            await store.store_vectors(
                list(zip(backlog, vectors, strict=True)), model=embedder.model
            )
            progress.advance(len(backlog))
    except (ProviderFailure, EmbeddingMismatch) as exc:
        progress.finish()
        print(f"memhead: reindex stopped: {exc.message}; run it again to continue", file=out)
        return 1
    progress.finish()
    print(f"reindex done: the store holds vectors of {embedder.model}", file=out)
    return 0


async def _dimensions(embedder: Embedder) -> int:
    """The length of the new model's vectors: a provider's model tells it in an answer."""
    known = known_dimension(embedder)
    if known is not None:
        return known
    (probe,) = await embedder.embed(["memhead reindex"])
    return len(probe)

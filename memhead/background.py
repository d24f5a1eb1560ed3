"""Background work: what the configuration calls for (``build_workers``), and running it for
as long as a server or ``memhead worker`` lives (``background``).

Each worker polls the store with the one loop of ``polling``; neither needs anything of the
web stack, so ``memhead worker`` runs without it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from memhead.embedding import EmbeddingWorker
from memhead.items.sweep import ItemSweeper
from memhead.metrics import Metrics
from memhead.providers.base import LLM, Embedder
from memhead.retention import RetentionSweeper
from memhead.settings import Settings
from memhead.stores import Store
from memhead.worker import build_worker


class Background(Protocol):
    """A worker: ``run`` polls until ``stop`` is called."""

    async def run(self) -> None: ...
    async def stop(self, grace_s: float = 5.0) -> None: ...


def build_workers(
    settings: Settings,
    store: Store,
    llm: LLM | None,
    embedder: Embedder | None,
    metrics: Metrics | None = None,
) -> list[Background]:
    """The background workers the configuration calls for: compaction, embedding, and
    always the sweeps of expired memory items and of sessions past their TTL (the default
    ``MEMHEAD_SESSION_TTL``, or a session's own ``ttl``)."""
    workers: list[Background] = [
        ItemSweeper(store, interval_s=settings.item_sweep_interval_s, metrics=metrics),
        RetentionSweeper(
            store,
            default_ttl_ms=settings.session_ttl_ms,
            interval_s=settings.sweep_interval_s,
            metrics=metrics,
        ),
    ]
    if llm is not None:
        workers.append(build_worker(settings, store, llm, metrics))
    if embedder is not None:
        workers.append(
            EmbeddingWorker(
                store,
                embedder,
                batch=settings.embed_batch,
                poll_s=settings.worker_poll_s,
                backoff_ms=int(settings.failure_backoff_s * 1000),
                metrics=metrics,
            )
        )
    return workers


@asynccontextmanager
async def background(*workers: Background) -> AsyncIterator[None]:
    """Run ``workers`` for the duration of the block; stop them cleanly at the end."""
    tasks = [asyncio.create_task(w.run(), name=type(w).__name__) for w in workers]
    try:
        yield
    finally:
        for worker in workers:
            await worker.stop()
        await asyncio.gather(*tasks)

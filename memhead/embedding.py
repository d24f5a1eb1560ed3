"""Background embedding: vectors for stored messages and memory items that have none yet,
in batches (the two share the embedder, its failures and its backoff).

Work is derived from stored state (the store's backlog), so nothing is lost when a process
dies. Two workers may embed the same batch at once; the store keeps the first vector and
skips the rest, so the cost is a wasted call, never a wrong index.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from memhead.errors import (
    BackendUnavailable,
    EmbeddingMismatch,
    ProviderFailure,
    SearchUnavailable,
)
from memhead.metrics import Metrics
from memhead.models import PendingEmbedding, now_ms
from memhead.polling import poll, retry_delay_ms
from memhead.providers.base import Embedder
from memhead.retrieval import embedding_text
from memhead.stores.item_roles import ItemStore
from memhead.stores.roles import EmbeddingQueue

log = logging.getLogger("memhead.embedding")

MAX_BACKOFF_MS = 600_000
"""Embedding retries back off to one every ten minutes at most: a failure stops all
embedding (one backlog for the whole store), so it is retried sooner than a session's
compaction (``worker.MAX_BACKOFF_MS``)."""


def message_text(item: PendingEmbedding) -> str:
    """What is embedded for a message: ``retrieval.embedding_text`` decides."""
    return embedding_text(item.message.content)


class EmbeddingStore(EmbeddingQueue, ItemStore, Protocol):
    """What the worker uses: the message backlog and the item backlog."""


@dataclass(slots=True)
class EmbeddingStatus:
    embedded: int = 0
    last_error: str | None = None
    attempts: int = 0
    next_attempt_at: int | None = None


class EmbeddingWorker:
    def __init__(
        self,
        store: EmbeddingStore,
        embedder: Embedder,
        *,
        batch: int = 64,
        poll_s: float = 0.5,
        backoff_ms: int = 5_000,
        text_of: Callable[[PendingEmbedding], str] = message_text,
        clock: Callable[[], int] = now_ms,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.batch = batch
        self.poll_s = poll_s
        self.backoff_ms = backoff_ms
        self.text_of = text_of
        self.clock = clock
        self.status = EmbeddingStatus()
        self.metrics = metrics
        self._stopping = asyncio.Event()
        self._said_no_search = False

    async def run_pending(self) -> int:
        """Embed the whole backlog (unless the provider fails); return how many messages and
        items were embedded. A batch of messages and a batch of items take turns, so that
        neither kind waits for the other's backlog to drain."""
        done = 0
        while not self._stopping.is_set():
            messages = await self._one_batch()
            items = await self._one_item_batch() if messages >= 0 else -1
            if messages <= 0 and items <= 0:
                break
            done += max(messages, 0) + max(items, 0)
        return done

    async def _one_batch(self) -> int:
        """Embed one batch of messages: its size, 0 when there is no backlog, -1 after a
        failure (or while waiting to retry one)."""
        if self._waiting():
            return -1
        backlog = await self.store.embedding_backlog(limit=self.batch)
        if not backlog:
            return 0
        try:
            vectors = await self.embedder.embed([self.text_of(p) for p in backlog])
            await self.store.store_vectors(
                list(zip(backlog, vectors, strict=True)), model=self.embedder.model
            )
        except (ProviderFailure, EmbeddingMismatch) as exc:
            return self._failed(exc.message)
        return self._succeeded("embedding", len(backlog))

    async def _one_item_batch(self) -> int:
        """``_one_batch`` for memory items (their index text, as the put chose it)."""
        if self._waiting():
            return -1
        backlog = await self.store.item_embedding_backlog(limit=self.batch)
        if not backlog:
            return 0
        try:
            vectors = await self.embedder.embed([p.text for p in backlog])
            await self.store.store_item_vectors(
                list(zip(backlog, vectors, strict=True)), model=self.embedder.model
            )
        except (ProviderFailure, EmbeddingMismatch) as exc:
            return self._failed(exc.message)
        return self._succeeded("item_embedding", len(backlog))

    def _waiting(self) -> bool:
        retry_at = self.status.next_attempt_at
        return retry_at is not None and self.clock() < retry_at

    def _succeeded(self, kind: str, count: int) -> int:
        self.status = EmbeddingStatus(embedded=self.status.embedded + count)
        if self.metrics is not None:
            self.metrics.jobs.labels(kind, "done").inc(count)
        return count

    def _failed(self, error: str) -> int:
        if self.metrics is not None:
            self.metrics.jobs.labels("embedding", "failed").inc(1)
        attempts = self.status.attempts + 1
        delay = retry_delay_ms(self.backoff_ms, attempts, MAX_BACKOFF_MS)
        retry_at = self.clock() + delay
        log.warning("embedding failed (attempt %d), next try in %d ms: %s", attempts, delay, error)
        self.status = EmbeddingStatus(self.status.embedded, error, attempts, retry_at)
        return -1

    async def run(self) -> None:
        """Embed as messages and items arrive until ``stop()``."""
        await poll(
            self._step,
            stopping=self._stopping,
            interval_s=self.poll_s,
            log=log,
            name="embedding worker",
        )

    async def _step(self) -> None:
        try:
            await self.run_pending()
        except BackendUnavailable:
            raise  # the poll loop waits it out
        except SearchUnavailable as exc:  # configuration: say it once, not every poll
            if not self._said_no_search:
                log.warning("embedding is paused: %s", exc.message)
                self._said_no_search = True
            self.status = EmbeddingStatus(self.status.embedded, exc.message)
        except Exception:  # the worker boundary: log, keep going
            log.exception("embedding worker error")

    async def stop(self, grace_s: float = 5.0) -> None:
        self._stopping.set()

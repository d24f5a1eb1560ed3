"""Background compaction: finds due sessions in the store, leases them, compacts them.

Work is derived from stored state (the store's due marker), so a worker that dies loses
nothing: its lease expires and any worker takes the session over. ``run_pending()`` is the
burst mode: do all the work that is due now, then return.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import Callable

from memhead.compaction import Compactor, Outcome
from memhead.errors import BackendUnavailable
from memhead.metrics import Metrics
from memhead.models import SessionKey, now_ms
from memhead.polling import poll, retry_delay_ms
from memhead.providers.base import LLM
from memhead.settings import Settings
from memhead.stores.roles import CompactionStore
from memhead.tokens import build_token_counter, default_budget

log = logging.getLogger("memhead.worker")

MAX_BACKOFF_MS = 3_600_000
"""A session's retries back off to one an hour at most: its failure is recorded on it and
other sessions go on meanwhile, so waiting long costs that session alone."""


class Worker:
    def __init__(
        self,
        compactor: Compactor,
        *,
        concurrency: int = 4,
        poll_s: float = 0.5,
        lease_ms: int = 60_000,
        backoff_ms: int = 5_000,
        clock: Callable[[], int] = now_ms,
        owner: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.compactor = compactor
        self.store = compactor.store
        self.concurrency = concurrency
        self.poll_s = poll_s
        self.lease_ms = lease_ms
        self.backoff_ms = backoff_ms
        self.clock = clock
        self.owner = owner or uuid.uuid4().hex
        self.metrics = metrics
        self.tasks: dict[SessionKey, asyncio.Task[None]] = {}
        self._stopping = asyncio.Event()

    async def run_pending(self, max_rounds: int = 1000) -> int:
        """Compact every session due now (and any that become due meanwhile); return how many
        sessions were worked on."""
        done = 0
        for _ in range(max_rounds):
            started = await self._start_due()
            if not started and not self.tasks:
                break
            if self.tasks:
                await asyncio.wait(list(self.tasks.values()), return_when=asyncio.FIRST_COMPLETED)
            done += started
        return done

    async def run(self) -> None:
        """Poll for due work until ``stop()``."""
        log.info("worker %s started (concurrency %d)", self.owner[:8], self.concurrency)
        await poll(
            self._start_due, stopping=self._stopping, interval_s=self.poll_s, log=log, name="worker"
        )

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop polling, let running compactions finish for ``grace_s``, then cancel them
        (their leases are released either way, so another worker can take over at once)."""
        self._stopping.set()
        running = list(self.tasks.values())
        if running:
            _, pending = await asyncio.wait(running, timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _start_due(self) -> int:
        free = self.concurrency - len(self.tasks)
        if free <= 0 or self._stopping.is_set():
            return 0
        due = await self.store.due_sessions(now=self.clock(), limit=free + len(self.tasks))
        if self.metrics is not None:
            self.metrics.pending.labels("compaction").set(len(due))
        started = 0
        for key in due:
            if key in self.tasks or len(self.tasks) >= self.concurrency:
                continue
            now = self.clock()
            if not await self.store.acquire_lease(
                key, owner=self.owner, now=now, ttl_ms=self.lease_ms
            ):
                continue
            task = asyncio.create_task(self._work(key), name=f"compact {key.session_id}")
            self.tasks[key] = task
            task.add_done_callback(functools.partial(self._forget, key))
            started += 1
        return started

    def _forget(self, key: SessionKey, task: asyncio.Task[None]) -> None:
        self.tasks.pop(key, None)

    async def _work(self, key: SessionKey) -> None:
        heartbeat = asyncio.create_task(self._keep_lease(key), name=f"lease {key.session_id}")
        started = time.perf_counter()
        try:
            outcome = await self.compactor.compact(key)
            if outcome.error is not None:
                await self._record_failure(key, outcome.error)
            self._count(outcome, time.perf_counter() - started)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the worker boundary: record, never crash the loop
            log.exception("compaction of %r failed", key.session_id)
            await self._record_failure(key, f"{type(exc).__name__}: {exc}")
            self._count(None, time.perf_counter() - started)
        finally:
            heartbeat.cancel()
            await asyncio.shield(self._release(key))

    def _count(self, outcome: Outcome | None, seconds: float) -> None:
        if self.metrics is None:
            return
        if outcome is None or outcome.error is not None:
            result = "failed"
        else:
            result = "done" if outcome.committed else "conflict"
        self.metrics.jobs.labels("compaction", result).inc()
        self.metrics.job_duration.labels("compaction").observe(seconds)
        if outcome is not None:
            self.metrics.provider_tokens.inc(outcome.tokens)

    async def _keep_lease(self, key: SessionKey) -> None:
        """Extend the lease every third of its life, however long a provider call takes."""
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            try:
                await self.store.acquire_lease(
                    key, owner=self.owner, now=self.clock(), ttl_ms=self.lease_ms
                )
            except BackendUnavailable:
                log.warning("could not extend the lease on %r", key.session_id)

    async def _release(self, key: SessionKey) -> None:
        try:
            await self.store.release_lease(key, owner=self.owner)
        except BackendUnavailable:
            log.warning("could not release the lease on %r; it expires by itself", key.session_id)

    async def _record_failure(self, key: SessionKey, error: str) -> None:
        session = await self.store.get_session(key)
        if session is None:
            return
        delay = retry_delay_ms(self.backoff_ms, session.attempts + 1, MAX_BACKOFF_MS)
        retry_at = self.clock() + delay
        log.warning(
            "compaction of %r failed (attempt %d), next try in %.1fs: %s",
            key.session_id,
            session.attempts + 1,
            (retry_at - self.clock()) / 1000,
            error,
        )
        await self.store.record_failure(
            key, incarnation=session.incarnation, error=error, retry_at=retry_at
        )


def build_worker(
    settings: Settings, store: CompactionStore, llm: LLM, metrics: Metrics | None = None
) -> Worker:
    """A worker configured from settings, sharing ``store`` with the server."""
    compactor = Compactor(
        store,
        llm,
        build_token_counter(settings.llm_model),
        window=settings.window_size,
        budget=settings.summary_token_budget or default_budget(settings.llm_model),
        clock=now_ms,
    )
    return Worker(
        compactor,
        concurrency=settings.worker_concurrency,
        poll_s=settings.worker_poll_s,
        lease_ms=int(settings.lease_s * 1000),
        backoff_ms=int(settings.failure_backoff_s * 1000),
        metrics=metrics,
    )

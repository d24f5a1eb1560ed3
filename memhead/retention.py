"""The retention sweep: deletes sessions not written for longer than their TTL (their own
``ttl``, else ``MEMHEAD_SESSION_TTL``) with everything of them.

Every server and ``memhead worker`` runs one; a store-wide lease (``Retention.acquire_job``)
lets one process at a time sweep, and each deletion re-checks the session's expiry in the
store, so a session written after it was listed is kept and none is deleted twice. The work
is derived from stored state: a process that dies mid-sweep leaves the rest to the next one.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

from memhead.errors import BackendUnavailable
from memhead.metrics import Metrics
from memhead.models import now_ms
from memhead.polling import poll
from memhead.stores.data_roles import Retention

log = logging.getLogger("memhead.retention")

JOB = "retention"
"""The name of the sweep's store-wide lease."""
BATCH = 100
"""Expired sessions listed per round of a sweep."""


class RetentionSweeper:
    """Sweeps every ``interval_s`` seconds while it holds the store-wide lease."""

    def __init__(
        self,
        store: Retention,
        *,
        default_ttl_ms: int | None,
        interval_s: float = 60.0,
        clock: Callable[[], int] = now_ms,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.default_ttl_ms = default_ttl_ms
        self.interval_s = interval_s
        self.clock = clock
        self.metrics = metrics
        self.owner = uuid.uuid4().hex
        self.deleted = 0
        """Sessions this sweeper deleted since it started."""
        self._stopping = asyncio.Event()

    def _lease_ms(self) -> int:
        # Held across a whole sweep; renewed per batch, so a long sweep keeps it.
        return int(max(self.interval_s * 2, 30) * 1000)

    async def sweep(self) -> int:
        """One sweep, if this process gets the lease: how many sessions it deleted."""
        if not await self.store.acquire_job(
            JOB, owner=self.owner, now=self.clock(), ttl_ms=self._lease_ms()
        ):
            return 0
        deleted = 0
        try:
            while not self._stopping.is_set():
                count = await self._batch()
                deleted += count
                if count == 0:
                    break
                await self.store.acquire_job(
                    JOB, owner=self.owner, now=self.clock(), ttl_ms=self._lease_ms()
                )
        finally:
            await self.store.release_job(JOB, owner=self.owner)
        if deleted:
            # Counts only: session ids can be personal data, and this line is at INFO.
            log.info("retention: deleted %d expired session(s)", deleted)
        return deleted

    async def _batch(self) -> int:
        now = self.clock()
        keys = await self.store.expired_sessions(
            now=now, default_ttl_ms=self.default_ttl_ms, limit=BATCH
        )
        deleted = 0
        for key in keys:
            if await self.store.expire_session(key, now=now, default_ttl_ms=self.default_ttl_ms):
                deleted += 1
        self.deleted += deleted
        if self.metrics is not None and deleted:
            self.metrics.jobs.labels("retention", "deleted").inc(deleted)
        return deleted

    async def run(self) -> None:
        """Sweep until ``stop()``."""
        await poll(
            self._step,
            stopping=self._stopping,
            interval_s=self.interval_s,
            log=log,
            name="retention sweep",
        )

    async def _step(self) -> None:
        try:
            await self.sweep()
        except BackendUnavailable:
            raise  # the poll loop waits it out
        except Exception:  # the worker boundary: log, keep going
            log.exception("retention sweep error")

    async def stop(self, grace_s: float = 5.0) -> None:
        self._stopping.set()

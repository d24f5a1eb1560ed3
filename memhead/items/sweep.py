"""The item sweep: deletes expired memory items (with their index entries) every
``MEMHEAD_ITEM_SWEEP_INTERVAL`` seconds. Reads never return an expired item, swept or not;
the sweep only gives their space back. Several processes may sweep one store at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from memhead.errors import BackendUnavailable
from memhead.metrics import Metrics
from memhead.models import now_ms
from memhead.polling import poll
from memhead.stores.item_roles import ItemStore

log = logging.getLogger("memhead.items")

BATCH = 1000


class ItemSweeper:
    def __init__(
        self,
        store: ItemStore,
        *,
        interval_s: float = 60.0,
        batch: int = BATCH,
        clock: Callable[[], int] = now_ms,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.interval_s = interval_s
        self.batch = batch
        self.clock = clock
        self.metrics = metrics
        self._stopping = asyncio.Event()

    async def sweep(self) -> int:
        """Delete every item expired by now, a batch at a time; how many were deleted."""
        deleted = 0
        while not self._stopping.is_set():
            count = await self.store.sweep_expired_items(now=self.clock(), limit=self.batch)
            deleted += count
            if count < self.batch:
                break
        if deleted and self.metrics is not None:
            self.metrics.jobs.labels("item_sweep", "done").inc(deleted)
        return deleted

    async def _step(self) -> None:
        try:
            await self.sweep()
        except BackendUnavailable:
            raise  # the poll loop waits it out
        except Exception:  # the worker boundary: log, keep going
            log.exception("item sweep error")

    async def run(self) -> None:
        """Sweep until ``stop()``."""
        await poll(
            self._step,
            stopping=self._stopping,
            interval_s=self.interval_s,
            log=log,
            name="item sweep",
        )

    async def stop(self, grace_s: float = 5.0) -> None:
        self._stopping.set()

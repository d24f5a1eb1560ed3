"""What every background worker shares: the poll loop, and the jittered backoff of retries.

Both workers (``worker``: compaction, ``embedding``) derive their work from stored state, so
the loop has nothing to hand over from one step to the next: it runs a step, waits, and runs
the next, until told to stop. A store outage is waited out (the next step tries again);
anything else a step lets escape is the worker's own to handle.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from memhead.errors import BackendUnavailable

JITTER = 0.25
"""A retry waits up to this fraction longer, at random: workers (or sessions) that failed
together then do not all retry at the same moment."""


async def poll(
    step: Callable[[], Awaitable[object]],
    *,
    stopping: asyncio.Event,
    interval_s: float,
    log: logging.Logger,
    name: str,
) -> None:
    """Run ``step`` every ``interval_s`` seconds until ``stopping`` is set."""
    while not stopping.is_set():
        try:
            await step()
        except BackendUnavailable as exc:
            log.warning("%s cannot reach the store: %s", name, exc.message)
        try:
            await asyncio.wait_for(stopping.wait(), timeout=interval_s)
        except TimeoutError:
            pass


def retry_delay_ms(base_ms: int, failures: int, cap_ms: int) -> int:
    """How long to wait after ``failures`` failures in a row: ``base_ms``, doubled for each
    earlier failure, at most ``cap_ms``, then stretched by up to ``JITTER``."""
    delay = min(base_ms * 2 ** (failures - 1), cap_ms)
    return int(delay * random.uniform(1.0, 1.0 + JITTER))

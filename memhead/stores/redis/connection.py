"""Connections to Redis: how a client is made (timeouts, no blind retries), and the one place
where connection trouble becomes ``BackendUnavailable``."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, ReadOnlyError, TimeoutError
from redis.maint_notifications import MaintNotificationsConfig

from memhead.errors import BackendUnavailable

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

TIMEOUT_S = 5.0
# BusyLoadingError is a ConnectionError; READONLY is what a failed-over primary answers.
UNAVAILABLE = (ConnectionError, TimeoutError, ReadOnlyError)


def unavailable_as_503(method: F) -> F:
    """The one place where Redis connection trouble becomes ``BackendUnavailable``."""

    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except UNAVAILABLE as exc:
            raise BackendUnavailable(f"Redis store unavailable: {exc}") from exc

    return cast(F, wrapper)


def connect(url: str, timeout_s: float = TIMEOUT_S) -> Redis:
    """A client for ``redis://``, ``rediss://`` (TLS) or ``unix://``; timeouts, no blind
    retries."""
    return Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        # No retries (redis-py's default is three). A connection that fails after a
        # command was sent may fail after Redis ran it: an append sent again would be
        # stored twice. A failed call is a 503; the client decides whether to send it
        # again. A pooled connection that died with a server restart needs no retry
        # either: the pool checks each connection as it hands it out and replaces one
        # the server has closed...
        retry=Retry(NoBackoff(), 0),
        # ...unless maintenance notifications are on. redis-py 8.1 skips that check
        # when they are, and their default, "auto", counts as on. They are a feature
        # of Redis Software/Cloud over RESP3; memhead speaks RESP2.
        maint_notifications_config=MaintNotificationsConfig(enabled=False),
        health_check_interval=30,
    )

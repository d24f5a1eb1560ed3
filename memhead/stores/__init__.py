"""Storage backends behind one contract (``roles``: a protocol per role, ``Store`` their
union); ``open_store`` picks a backend by URL."""

from __future__ import annotations

from memhead.errors import ConfigError
from memhead.redact import redact_url
from memhead.settings import Settings
from memhead.stores.roles import Store


def open_store(
    url: str,
    *,
    sqlite_synchronous: str = "NORMAL",
    vector_cache_mb: int = 512,
    redis_prefix: str = "memhead",
) -> Store:
    """Build (but do not connect) the store a URL names: ``sqlite://...`` or ``redis(s)://...``.
    The keyword options are each backend's own (``Settings.store_options()`` gives them)."""
    if url.startswith("sqlite://"):
        from memhead.stores.sqlite import SqliteStore

        return SqliteStore.from_url(
            url, synchronous=sqlite_synchronous, vector_cache_bytes=vector_cache_mb * 1024 * 1024
        )
    if url.startswith(("redis://", "rediss://", "unix://")):
        from memhead.stores.redis import RedisStore

        return RedisStore.from_url(url, prefix=redis_prefix)
    raise ConfigError(
        f"unsupported store URL {redact_url(url)!r}: use sqlite:///path or redis://host:port"
    )


def store_for(settings: Settings) -> Store:
    """The store the settings name, with their options."""
    return open_store(settings.resolved_store_url, **settings.store_options())


__all__ = ["Store", "open_store", "store_for"]

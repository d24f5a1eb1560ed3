"""Storage backends behind one protocol; ``open_store`` picks one by URL."""

from __future__ import annotations

from memhead.errors import ConfigError
from memhead.stores.base import Store


def open_store(url: str) -> Store:
    """Build (but do not connect) the store a URL names: ``sqlite://...`` or ``redis(s)://...``."""
    if url.startswith("sqlite://"):
        from memhead.stores.sqlite import SqliteStore

        return SqliteStore.from_url(url)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from memhead.stores.redis import RedisStore

        return RedisStore.from_url(url)
    raise ConfigError(f"unsupported store URL {url!r}: use sqlite:///path or redis://host:port")


__all__ = ["Store", "open_store"]

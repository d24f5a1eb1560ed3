"""The Redis backend: ``store`` (the class), a module per role (``sessions``, ``compaction``,
``search``, ``embedding``, ``api_keys``, ``check``), the Lua scripts (``lua/``, loaded by
``scripts``), and what they share (``keyspace``, ``fields``, ``indexes``, ``text``,
``batches``)."""

from __future__ import annotations

from memhead.stores.redis.store import RedisStore

__all__ = ["RedisStore"]

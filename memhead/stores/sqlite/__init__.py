"""The SQLite backend: ``store`` (the class), a module per role (``sessions``, ``compaction``,
``search``, ``embedding``, ``api_keys``, ``check``), and the plumbing they share (``rows``,
``schema``, ``batches``)."""

from __future__ import annotations

from memhead.stores.sqlite.rows import MESSAGE_COLUMNS
from memhead.stores.sqlite.store import SqliteStore, path_from_url

__all__ = ["MESSAGE_COLUMNS", "SqliteStore", "path_from_url"]

"""``memhead backup PATH``: a consistent copy of a SQLite store, taken while servers write to
it, with SQLite's online backup API.

The copy is made in one step (``pages=-1``): one read transaction, so it is the database as
of one moment, and writers in other processes go on meanwhile (WAL mode). It is written to
``PATH.partial`` and renamed into place, so ``PATH`` is never half written.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from memhead.errors import ConfigError


def backup_sqlite(source: str, target: Path, *, busy_timeout_ms: int = 5000) -> int:
    """Copy the database at ``source`` to ``target``; returns the copy's size in bytes."""
    if source == ":memory:":
        raise ConfigError("an in-memory SQLite store has nothing to back up")
    if not Path(source).exists():
        raise ConfigError(f"no SQLite database at {Path(source).resolve()}")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=busy_timeout_ms / 1000)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            dst.close()
    finally:
        src.close()
    os.replace(partial, target)
    return target.stat().st_size

"""Reader connections: searches read on their own threads, beside the write batch thread.

In WAL mode readers never block the writer nor each other, so a search need not queue behind
a batch of writes on the store's thread (``batches.BatchRunner``), and the keyword and vector
halves of one hybrid search run at the same time (SQLite and numpy both let go of the GIL
while they work). Each call is one read transaction: one snapshot of committed data, so a
message is found by any search that starts after its write was acknowledged, and nothing a
rolled-back batch wrote is ever seen (or cached) here.

A pool of threads, each with its own connection made on first use (sqlite3 connections are
not shared between threads at once); standard library ``ThreadPoolExecutor`` does the queueing.
An in-memory database (``:memory:``) is private to its one connection: its store reads on the
batch thread instead (``SqliteStore._read``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

READERS = 4
"""Reader threads: two per hybrid search (keyword and vector at once) and some slack for
concurrent requests; they hold only a connection each while idle."""


class ReaderPool:
    """Runs ``fn(conn, *args)`` in a read transaction on one of ``size`` reader threads."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], size: int = READERS) -> None:
        self._connect = connect
        self._size = size
        self._executor: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool(), self._call, fn, args)

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._size, "memhead-sqlite-read")
            return self._executor

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        conn = self._connection()
        conn.execute("BEGIN")  # deferred: one snapshot for every statement of fn
        try:
            return fn(conn, *args)
        finally:
            conn.execute("ROLLBACK")  # nothing to keep: reads only

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only = 1")
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def stop(self) -> None:
        """Wait for running reads, then close every reader's connection."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
        self._local = threading.local()

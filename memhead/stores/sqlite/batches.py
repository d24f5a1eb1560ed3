"""Group commit for the SQLite store: one thread owns the connection and runs queued
operations in batches, each batch one transaction and one wake-up of the event loop; and
WAL checkpoints on a thread of their own.

Under load many requests wait at once. Committing each write alone costs a WAL commit and an
FTS5 segment flush per message, and handing each result back across threads costs a wake-up
of the event loop; per batch, both are paid once. Nothing is answered before its batch has
committed, so an acknowledged write is durable as before, and a read that saw a batch's
writes is never answered if that batch fails to commit. aiosqlite (one thread per connection)
does the hand-off but not the grouping, which is where the time goes; hence this module.

A write operation enters the batch's transaction with ``writing(conn)``: the first write of a
batch begins it (``BEGIN IMMEDIATE``, so another process's lock is waited for up to
``busy_timeout``). If an operation raises, the batch is rolled back and its operations run
again one transaction each, so only the failing one fails. (Savepoints would do the same
without the rerun, but they cost a statement journal per operation: 90 µs per append
without them, 160 µs with them.)
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from memhead.errors import BackendUnavailable

log = logging.getLogger("memhead.sqlite")

MAX_BATCH = 256
"""Operations per transaction at most: bounds how long one commit keeps others waiting."""


@contextmanager
def writing(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Enter the batch's transaction (the first write of a batch begins it)."""
    if not conn.in_transaction:
        conn.execute("BEGIN IMMEDIATE")  # committed by the runner after the batch
    yield conn


def unavailable(exc: sqlite3.Error) -> BackendUnavailable:
    return BackendUnavailable(f"SQLite store unavailable: {exc}")


def translate(exc: Exception) -> Exception:
    """Database trouble (locked, I/O, corrupt) is an outage; anything else is a bug to show."""
    if isinstance(exc, sqlite3.DatabaseError | sqlite3.OperationalError) and not isinstance(
        exc, sqlite3.IntegrityError
    ):
        return unavailable(exc)
    return exc


@dataclass(slots=True)
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


_Outcome = tuple[asyncio.Future[Any], bool, Any]


def _deliver(outcomes: list[_Outcome]) -> None:
    for future, ok, value in outcomes:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class BatchRunner:
    """The thread that owns one SQLite connection (opened by ``connect`` on that thread)."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        name: str,
        on_rollback: Callable[[], None] = lambda: None,
    ) -> None:
        """``on_rollback`` runs on this thread after every rollback, before anything else:
        whatever an operation remembered from its undone transaction must be forgotten."""
        self._connect = connect
        self._name = name
        self._on_rollback = on_rollback
        self._jobs: deque[_Job | None] = deque()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.conn: sqlite3.Connection | None = None

    def submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Queue ``fn(conn, *args)``; the future resolves once its batch has committed."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._start()
        self._jobs.append(_Job(fn, args, loop, future))
        self._wake.set()
        return future

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Finish the queued work, close the connection and end the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        self._jobs.append(None)
        self._wake.set()
        thread.join()

    def _serve(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while self._jobs:
                batch: list[_Job] = []
                while self._jobs and len(batch) < MAX_BATCH:
                    job = self._jobs.popleft()
                    if job is None:
                        self._finish(batch)
                        self._close()
                        return
                    batch.append(job)
                self._finish(batch)

    def _finish(self, batch: list[_Job]) -> None:
        if not batch:
            return
        outcomes = self._run(batch)
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for job, (ok, value) in zip(batch, outcomes, strict=True):
            by_loop.setdefault(job.loop, []).append((job.future, ok, value))
        for loop, delivered in by_loop.items():
            try:
                loop.call_soon_threadsafe(_deliver, delivered)
            except RuntimeError:  # that loop has closed: nobody is waiting any more
                pass

    def _run(self, batch: list[_Job]) -> list[tuple[bool, Any]]:
        try:
            if self.conn is None:
                self.conn = self._connect()
            conn = self.conn
        except sqlite3.Error as exc:
            return [(False, unavailable(exc))] * len(batch)
        try:
            outcomes: list[tuple[bool, Any]] = [(True, job.fn(conn, *job.args)) for job in batch]
        except Exception as exc:
            self._rollback(conn)
            if len(batch) == 1:
                return [(False, translate(exc))]
            # Rare (a bug, a full disk): undo the batch and run each operation on its own,
            # so only the failing one fails and nothing saw another's undone writes.
            return [self._alone(conn, job) for job in batch]
        failure = self._commit(conn)
        return outcomes if failure is None else [(False, failure)] * len(batch)

    def _alone(self, conn: sqlite3.Connection, job: _Job) -> tuple[bool, Any]:
        try:
            value = job.fn(conn, *job.args)
        except Exception as exc:
            self._rollback(conn)
            return (False, translate(exc))
        failure = self._commit(conn)
        return (True, value) if failure is None else (False, failure)

    def _commit(self, conn: sqlite3.Connection) -> BackendUnavailable | None:
        if not conn.in_transaction:
            return None
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback(conn)
            return unavailable(exc)
        return None

    def _rollback(self, conn: sqlite3.Connection) -> None:
        """Undo the open transaction, if any; the hook runs either way, since operations
        that read may have remembered state that a failed commit leaves undone."""
        if conn.in_transaction:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        self._on_rollback()

    def _close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Checkpointer:
    """Most of the WAL checkpointing, on a thread of its own.

    SQLite checkpoints inside the commit that crosses ``wal_autocheckpoint`` pages, and that
    checkpoint's copying and fsyncs stall every operation queued behind the commit. This
    thread runs a PASSIVE checkpoint (it never blocks readers or writers) every
    ``interval_s`` on its own connection, so the one inside the commit finds little left to
    copy. That one is still needed: only a checkpoint that completes between two writes lets
    the WAL start over, and under a steady stream of batches only the writer itself sees
    such a moment (with this thread alone the WAL grew by 400 MB in minutes).
    """

    def __init__(self, connect: Callable[[], sqlite3.Connection], interval_s: float = 0.1):
        self._connect = connect
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._serve, name="memhead-sqlite-checkpoint", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join()

    def _serve(self) -> None:
        conn: sqlite3.Connection | None = None
        while not self._stop.wait(self._interval_s):
            try:
                conn = conn or self._connect()
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:  # the store reports outages; try again next time
                log.debug("checkpoint skipped: %s", exc)
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

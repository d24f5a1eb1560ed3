"""Group commit on a real SQLite file: what one batch's operations may and may not see of each
other. The first job holds the store thread until the rest are queued, so they form a batch."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from memhead.errors import BackendUnavailable
from memhead.stores.sqlite.batches import BatchRunner, writing

SCHEMA = """
CREATE TABLE parents (id INTEGER PRIMARY KEY);
CREATE TABLE rows (
    id INTEGER PRIMARY KEY,
    parent INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED
);
"""


def connector(path: Path) -> Callable[[], sqlite3.Connection]:
    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)
    return connect


def insert(conn: sqlite3.Connection, row_id: int, parent: int | None = None) -> int:
    with writing(conn):
        conn.execute("INSERT INTO rows (id, parent) VALUES (?, ?)", (row_id, parent))
    return row_id


def insert_then_fail(conn: sqlite3.Connection, row_id: int) -> None:
    with writing(conn):
        conn.execute("INSERT INTO rows (id) VALUES (?)", (row_id,))
        raise ValueError("this operation fails after writing")


def ids(conn: sqlite3.Connection) -> list[int]:
    return [r[0] for r in conn.execute("SELECT id FROM rows ORDER BY id")]


def committed(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return ids(conn)


async def one_batch(runner: BatchRunner, *jobs: tuple[Any, ...]) -> list[Any]:
    """Queue ``jobs`` while the store thread is held, so they run as one batch."""
    release = threading.Event()
    held = runner.submit(lambda conn: release.wait(5))
    await asyncio.sleep(0.05)  # the thread has taken the holding job and waits in it
    futures = [runner.submit(fn, *args) for fn, *args in jobs]
    release.set()
    await held
    return await asyncio.gather(*futures, return_exceptions=True)


async def test_a_failing_operation_is_undone_alone(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    runner = BatchRunner(connector(path), name="test-sqlite")
    try:
        results = await one_batch(runner, (insert, 1), (insert_then_fail, 2), (insert, 3), (ids,))
    finally:
        await asyncio.to_thread(runner.stop)
    assert results[0] == 1 and results[2] == 3
    assert isinstance(results[1], ValueError)
    assert results[3] == [1, 3]  # a read later in the batch sees the batch's writes
    assert committed(path) == [1, 3]


async def test_nothing_is_answered_when_the_batch_cannot_commit(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    runner = BatchRunner(connector(path), name="test-sqlite")
    try:
        # The deferred foreign key fails only at COMMIT: every operation of the batch, the
        # read that saw the doomed row included, must fail, and nothing may be stored.
        results = await one_batch(runner, (insert, 1), (insert, 2, 99), (ids,))
        later = await runner.submit(insert, 3)
    finally:
        await asyncio.to_thread(runner.stop)
    assert all(isinstance(r, BackendUnavailable) for r in results), results
    assert later == 3  # the runner carries on with the next batch
    assert committed(path) == [3]


async def test_an_unreadable_file_is_an_outage_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "not-a-db"
    path.write_bytes(b"this is not a database" * 100)

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    runner = BatchRunner(connect, name="test-sqlite")
    try:
        with pytest.raises(BackendUnavailable):
            await runner.submit(ids)
    finally:
        await asyncio.to_thread(runner.stop)


async def test_state_remembered_in_an_undone_batch_is_forgotten(tmp_path: Path) -> None:
    # Whatever an operation cached from a transaction that did not commit (the SQLite
    # store's vector cache) must be dropped: the rollback hook runs after every rollback.
    path = tmp_path / "b.db"
    seen: list[int] = []
    rollbacks: list[list[int]] = []
    runner = BatchRunner(
        connector(path), name="test-sqlite", on_rollback=lambda: rollbacks.append(seen[:])
    )

    def remember(conn: sqlite3.Connection) -> None:
        seen[:] = ids(conn)

    try:
        await one_batch(runner, (insert, 1), (insert, 2, 99), (remember,))  # fails at COMMIT
        assert rollbacks == [[1, 2]]  # the hook ran after the doomed rows had been seen
        await one_batch(runner, (insert, 3), (insert_then_fail, 4), (remember,))
        # the batch was undone, then its operations ran alone: the failing one again undone
        assert len(rollbacks) == 3
        await runner.submit(insert, 5)
    finally:
        await asyncio.to_thread(runner.stop)
    assert len(rollbacks) == 3  # commits call no hook
    assert seen == [3] and committed(path) == [3, 5]

"""What the SQLite store's work costs per request, without HTTP: the part of bench/load's
CPU per request that no HTTP layer can remove.

On a fresh file with 1,000 sessions, it times (microseconds per operation, best of 3 rounds
of 20,000, on whatever core the process runs):

- the store's append and window read (W=12) called directly on its connection, in
  transactions of 64 as group commit runs them (the store's private methods: this measures
  their cost, not the protocol's);
- the same through the store's async API, 64 at a time (the store thread, the hand-off and
  asyncio included);
- each statement of an append of a Human/AI pair, alone, in transactions of 64 that are
  rolled back (so the store is left as it was). FTS5 does much of its work at commit, which
  these leave out: they show the statements' execution, not the whole of an append.

    python bench/store_ops.py [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import memhead.stores.sqlite.sessions as sessions  # noqa: E402
from memhead.models import NewMessage, SessionKey  # noqa: E402
from memhead.stores.sqlite import MESSAGE_COLUMNS, SqliteStore  # noqa: E402

SESSIONS = 1000
N = 20_000
BATCH = 64
W = 12


def pair(i: int) -> list[NewMessage]:
    return [
        NewMessage("Human", f"question s=1 n={i}: tell me more"),
        NewMessage("AI", f"answer s=1 n={i}, with some detail"),
    ]


def per_op(
    conn: sqlite3.Connection, fn: Callable[[int], Any], *, write: bool, end: str = "COMMIT"
) -> float:
    """Best of 3 rounds, in µs per call, in transactions of ``BATCH`` ended by ``end``."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        for i in range(N):
            fn(i)
            if i % BATCH == BATCH - 1:
                conn.execute(end)
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        conn.execute(end)
        best = min(best, (time.perf_counter() - start) / N * 1e6)
    return best


def statements(conn: sqlite3.Connection) -> dict[str, float]:
    """The SQL of one append, statement by statement, on the store's own schema; every
    transaction is rolled back, so the store is left as it was."""
    sids = [r[0] for r in conn.execute("SELECT sid FROM sessions ORDER BY sid").fetchall()]
    rowids = itertools.count(10_000_000)  # keyword rows of no message
    seqs = itertools.count(10_000_000)  # beyond every stored seq, so each (sid, seq) is new

    def insert_message(i: int) -> None:
        conn.execute(
            f"INSERT INTO messages (sid, {MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (sids[i % SESSIONS], next(seqs), "AI", f"answer s=1 n={i}", i, None, None),
        )

    return {
        "select session": per_op(
            conn,
            lambda i: conn.execute(
                "SELECT sid, last_seq FROM sessions WHERE tenant = ? AND id = ?",
                ("default", f"s{i % SESSIONS}"),
            ).fetchone(),
            write=True,
            end="ROLLBACK",
        ),
        "select previous message": per_op(
            conn,
            lambda i: conn.execute(
                "SELECT content FROM messages WHERE sid = ? AND seq = ?", (sids[i % SESSIONS], 3)
            ).fetchone(),
            write=True,
            end="ROLLBACK",
        ),
        "insert message": per_op(conn, insert_message, write=True, end="ROLLBACK"),
        "insert keyword row (3 columns)": per_op(
            conn,
            lambda i: conn.execute(
                "INSERT INTO messages_fts (rowid, content, context, day) VALUES (?, ?, ?, ?)",
                (
                    next(rowids),
                    f"answer s=1 n={i}, with some detail",
                    f"question s=1 n={i}: tell me more",
                    "Tuesday 24 November 2026",
                ),
            ),
            write=True,
            end="ROLLBACK",
        ),
        "update session": per_op(
            conn,
            lambda i: conn.execute(
                "UPDATE sessions SET last_seq = last_seq, updated_at = ? WHERE sid = ?",
                (i, sids[i % SESSIONS]),
            ),
            write=True,
            end="ROLLBACK",
        ),
    }


async def measure(path: Path) -> dict[str, Any]:
    store = SqliteStore(str(path))
    await store.setup()
    keys = [SessionKey("default", f"s{i}") for i in range(SESSIONS)]
    bodies = [pair(i) for i in range(N)]
    for i in range(0, SESSIONS * 5, BATCH):  # 5 pairs per session to start with
        await asyncio.gather(
            *(
                store.append(keys[j % SESSIONS], bodies[j], now=j, window=W)
                for j in range(i, i + BATCH)
            )
        )

    def direct(conn: sqlite3.Connection) -> dict[str, float]:
        now = int(time.time() * 1000)
        return {
            "append, direct": per_op(
                conn,
                lambda i: sessions.append(conn, keys[i % SESSIONS], bodies[i], now, W, None, None),
                write=True,
            ),
            "window read, direct": per_op(
                conn, lambda i: sessions.memory(conn, keys[i % SESSIONS], W), write=False
            ),
        }

    # on the store's thread and connection, as one job: nothing else is queued meanwhile
    results: dict[str, float] = await store._run(statements)
    results |= await store._run(direct)

    async def through_store(op: Callable[[int], Any]) -> float:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for i in range(0, N, BATCH):
                await asyncio.gather(*(op(j) for j in range(i, min(i + BATCH, N))))
            best = min(best, (time.perf_counter() - start) / N * 1e6)
        return best

    results["append, through the store"] = await through_store(
        lambda i: store.append(keys[i % SESSIONS], bodies[i], now=i, window=W)
    )
    results["window read, through the store"] = await through_store(
        lambda i: store.memory(keys[i % SESSIONS], W)
    )
    await store.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="memhead-ops-") as tmp:
        results = asyncio.run(measure(Path(tmp) / "ops.db"))
    for name, us in results.items():
        print(f"{name:<34} {us:7.1f} µs", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({"us_per_op": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()

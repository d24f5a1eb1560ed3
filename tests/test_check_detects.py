"""``memhead check`` finds damage done behind the store's back, on both backends."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import redis

from memhead.models import ItemKey, NewItem, NewMessage, SessionKey, now_ms
from memhead.stores import Store
from memhead.stores.redis import RedisStore
from memhead.stores.sqlite import SqliteStore
from tests.redis_server import RedisServer


def fill(store: Store) -> None:
    async def run() -> None:
        await store.setup()
        key = SessionKey("default", "s")
        await store.append(key, [NewMessage("user", f"m{i}") for i in range(5)], now=1, window=12)
        await store.close()

    asyncio.run(run())


def fill_items(store: Store) -> None:
    """Items: embedded, waiting for a vector, not indexed, with a TTL."""

    async def run() -> None:
        await store.setup()
        now = now_ms()
        for name, text, ttl in [
            ("embedded", "one", None),
            ("other", "two", None),
            ("waiting", "three", None),
            ("plain", None, None),
            ("expiring", "four", 3_600_000),
        ]:
            await store.put_item(ItemKey("default", ("n",), name), NewItem({}, text, ttl), now=now)
        backlog = await store.item_embedding_backlog(limit=10)
        vectors = [(p, [1.0, 0.0]) for p in backlog if p.key.key in ("embedded", "other")]
        await store.store_item_vectors(vectors, model="m")
        await store.close()

    asyncio.run(run())


def check(url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memhead", "check"],
        # PYTHONPATH passed on: the code under test, even when it is not the installed copy.
        env={"MEMHEAD_STORE_URL": url, "PATH": "/usr/bin:/bin"}
        | {k: v for k, v in os.environ.items() if k == "PYTHONPATH"},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_reports_a_missing_message_in_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    fill(SqliteStore(str(db)))
    assert check(f"sqlite:///{db}", tmp_path).returncode == 0
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM messages WHERE seq = 3")
        conn.execute("UPDATE sessions SET lease_owner = 'worker-1'")
    result = check(f"sqlite:///{db}", tmp_path)
    assert result.returncode == 1
    assert "seqs are not 1..5" in result.stdout and "keyword rows belong to no message" in (
        result.stdout
    )
    assert "lease half set (owner 'worker-1', until None)" in result.stdout


def test_check_reports_missing_and_orphan_keys_in_redis(tmp_path: Path) -> None:
    with RedisServer() as server:
        fill(RedisStore.from_url(server.url))
        assert check(server.url, tmp_path).returncode == 0
        with redis.Redis.from_url(server.url) as client:
            client.delete(*client.keys("memhead:msg:*:3"))
            client.hset("memhead:msg:{x:y}:1", mapping={"content": "orphan"})
            (session,) = client.keys("memhead:session:*")
            client.hset(session, "lease_owner", "worker-1")
        result = check(server.url, tmp_path)
    assert result.returncode == 1
    assert "messages missing at seqs [3]" in result.stdout
    assert "1 msg keys belong to no session" in result.stdout
    assert "lease half set (owner 'worker-1', until None)" in result.stdout


def test_check_reports_broken_item_index_entries_in_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    fill_items(SqliteStore(str(db)))
    assert check(f"sqlite:///{db}", tmp_path).returncode == 0
    with sqlite3.connect(db) as conn:

        def item_id(key: str) -> int:
            return int(conn.execute("SELECT id FROM items WHERE key = ?", (key,)).fetchone()[0])

        conn.execute("DELETE FROM items_fts WHERE rowid = ?", (item_id("waiting"),))
        conn.execute(
            "INSERT INTO items_fts (rowid, text) VALUES (?, 'not indexed')", (item_id("plain"),)
        )
        # A vector left behind by another revision of "other" (each put is a new row id).
        conn.execute(
            "INSERT INTO item_vectors (item, tenant, vector) "
            "SELECT item + 1000, tenant, vector FROM item_vectors WHERE item = ?",
            (item_id("other"),),
        )
        conn.execute("DELETE FROM item_vectors WHERE item = ?", (item_id("embedded"),))
        conn.execute("UPDATE items SET ttl_ms = NULL WHERE key = 'expiring'")
    result = check(f"sqlite:///{db}", tmp_path)
    assert result.returncode == 1
    for line in [
        "1 indexed items have no keyword row",
        "1 item keyword rows belong to no indexed item",
        "1 item vectors belong to no indexed item of their tenant (or to an old revision)",
        "1 items marked embedded have no vector",
        "1 items have a TTL without an expiry or an expiry without a TTL",
    ]:
        assert line in result.stdout


def test_check_reports_items_out_of_step_with_their_index_entries_in_redis(
    tmp_path: Path,
) -> None:
    with RedisServer() as server:
        fill_items(RedisStore.from_url(server.url))
        assert check(server.url, tmp_path).returncode == 0
        with redis.Redis.from_url(server.url) as client:
            assert client.delete("memhead:itext:{default:n:waiting}") == 1
            assert client.delete("memhead:ivec:{default:n:embedded}") == 1
            client.hset("memhead:itext:{default:n:plain}", mapping={"text": "not indexed"})
            client.hset("memhead:ivec:{default:gone:x}", mapping={"revision": "r"})
        result = check(server.url, tmp_path)
    assert result.returncode == 1
    for line in [
        "item memhead:item:{default:n:waiting}: text but no keyword entry",
        "item memhead:item:{default:n:embedded}: no vector and not in the embedding backlog",
        "item memhead:item:{default:n:plain}: a keyword entry but no text",
        "1 item vectors belong to no item",
    ]:
        assert line in result.stdout
    assert "{default:n:other}" not in result.stdout

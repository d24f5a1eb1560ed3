"""``memhead check`` finds damage done behind the store's back, on both backends."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import redis

from memhead.models import NewMessage, SessionKey
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


def check(url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memhead", "check"],
        env={"MEMHEAD_STORE_URL": url, "PATH": "/usr/bin:/bin"},
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

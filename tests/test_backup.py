"""Backups taken while a server writes: ``memhead backup`` for SQLite, BGSAVE for Redis.
Each restores to a store that ``memhead check`` passes and that holds every write
acknowledged before the backup began."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import redis

from memhead.models import SessionKey
from memhead.settings import Settings
from memhead.stores import store_for
from tests.lifecycle_helpers import assert_sound, memhead
from tests.redis_server import RedisServer
from tests.servers import MemheadProcess


class Writer:
    """Posts messages to a few sessions as fast as the server takes them, noting each one
    the server acknowledged."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.acknowledged: list[tuple[str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            n = 0
            while not self._stop.is_set():
                session, content = f"s{n % 5}", f"write {n}"
                body = {"messages": [{"role": "user", "content": content}]}
                if client.post(f"/api/v1/sessions/{session}/messages", json=body).is_success:
                    self.acknowledged.append((session, content))
                n += 1

    @contextmanager
    def running(self) -> Iterator[Writer]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=30)


def stored(env: dict[str, str]) -> set[tuple[str, str]]:
    async def run() -> set[tuple[str, str]]:
        settings = Settings(
            store_url=env["MEMHEAD_STORE_URL"],
            redis_prefix=env.get("MEMHEAD_REDIS_PREFIX", "memhead"),
        )
        store = store_for(settings)
        await store.setup()
        found = set()
        for i in range(5):
            key = SessionKey("default", f"s{i}")
            for m in await store.history(key, before_seq=None, limit=100_000):
                found.add((key.session_id, m.content))
        await store.close()
        return found

    return asyncio.run(run())


def test_a_sqlite_backup_under_load_restores_every_acknowledged_write(tmp_path: Path) -> None:
    env = {"MEMHEAD_STORE_URL": f"sqlite:///{tmp_path / 'live.db'}"}
    with (
        MemheadProcess(env, cwd=tmp_path) as server,
        Writer(server.wait_ready().url).running() as w,
    ):
        time.sleep(1.0)
        before = list(w.acknowledged)
        done = memhead(env, "backup", str(tmp_path / "copy.db"), cwd=tmp_path)
        time.sleep(0.5)
    assert done.returncode == 0, done.stderr
    assert len(before) > 10 and len(w.acknowledged) > len(before)
    restored = {"MEMHEAD_STORE_URL": f"sqlite:///{tmp_path / 'copy.db'}"}
    assert not (tmp_path / "copy.db.partial").exists()
    assert_sound(restored, tmp_path)
    assert set(before) <= stored(restored)


def test_backup_of_a_redis_store_is_refused_with_the_procedure(tmp_path: Path) -> None:
    done = memhead({"MEMHEAD_STORE_URL": "redis://127.0.0.1:1/0"}, "backup", "x", cwd=tmp_path)
    assert done.returncode == 2
    assert b"BGSAVE" in done.stderr and b"Traceback" not in done.stderr


def test_a_redis_bgsave_under_load_restores_every_acknowledged_write(tmp_path: Path) -> None:
    (tmp_path / "live").mkdir()
    with RedisServer(dir=tmp_path / "live") as live:
        env = {"MEMHEAD_STORE_URL": live.url, "MEMHEAD_REDIS_PREFIX": "bk"}
        with (
            MemheadProcess(env, cwd=tmp_path) as server,
            Writer(server.wait_ready().url).running() as w,
        ):
            time.sleep(1.0)
            before = list(w.acknowledged)
            with redis.Redis.from_url(live.url) as client:
                last = client.lastsave()
                client.bgsave()
                while (
                    client.lastsave() == last
                    or client.info("persistence")["rdb_bgsave_in_progress"]
                ):
                    time.sleep(0.05)
            time.sleep(0.5)
    assert len(before) > 10 and len(w.acknowledged) > len(before)
    (tmp_path / "restored").mkdir()
    shutil.copy(tmp_path / "live" / "dump.rdb", tmp_path / "restored" / "dump.rdb")
    with RedisServer(dir=tmp_path / "restored") as copy:
        restored = {"MEMHEAD_STORE_URL": copy.url, "MEMHEAD_REDIS_PREFIX": "bk"}
        assert_sound(restored, tmp_path)
        assert set(before) <= stored(restored)

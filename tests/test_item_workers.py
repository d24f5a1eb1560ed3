"""``memhead worker`` as a real process does the background work of memory items: it embeds
their text (sharing the embedder with messages) and sweeps the expired ones away."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from memhead.models import ItemKey, NewItem, NewMessage, SessionKey, now_ms
from memhead.stores.sqlite import SqliteStore
from tests.fake_openai import FakeOpenAI
from tests.servers import MemheadProcess


async def seed(db: Path) -> None:
    store = SqliteStore(str(db))
    await store.setup()
    now = now_ms()
    for n in range(3):  # expired a minute ago
        key = ItemKey("default", ("old",), f"k{n}")
        await store.put_item(key, NewItem({"n": n}, "gone", ttl_ms=1000), now=now - 60_000)
    for n in range(70):  # more than one embedding batch
        key = ItemKey("default", ("notes",), f"k{n}")
        await store.put_item(key, NewItem({"n": n}, f"kettle note {n}"), now=now)
    await store.append(SessionKey("default", "s"), [NewMessage("user", "tea")], now=now, window=12)
    await store.close()


async def state(db: Path) -> tuple[int, int, int]:
    """Items left without a vector, messages left without one, items stored."""
    store = SqliteStore(str(db))
    await store.setup()
    try:
        items = len(await store.item_embedding_backlog(limit=1000))
        messages = len(await store.embedding_backlog(limit=1000))
    finally:
        await store.close()
    with sqlite3.connect(db) as raw:
        (stored,) = raw.execute("SELECT count(*) FROM items").fetchone()
    return items, messages, stored


def test_the_worker_embeds_items_and_sweeps_expired_ones(tmp_path: Path) -> None:
    db = tmp_path / "items.db"
    asyncio.run(seed(db))
    assert asyncio.run(state(db)) == (70, 1, 73)
    with FakeOpenAI() as fake:
        env = {
            "MEMHEAD_STORE_URL": f"sqlite:///{db}",
            "MEMHEAD_LLM_BASE_URL": fake.base_url,
            "MEMHEAD_EMBED_MODEL": "fake-embedding",
            "MEMHEAD_WORKER_POLL": "0.05",
            "MEMHEAD_ITEM_SWEEP_INTERVAL": "0.1",
        }
        with MemheadProcess(env, cwd=tmp_path, command=("worker",)) as worker:
            deadline = time.monotonic() + 60
            while asyncio.run(state(db)) != (0, 0, 70):
                assert worker.proc.poll() is None, worker.output()
                assert time.monotonic() < deadline, (asyncio.run(state(db)), worker.output())
                time.sleep(0.2)

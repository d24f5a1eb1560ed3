"""``memhead worker`` as a real process does the background work of memory items: it embeds
their text (sharing the embedder with messages) and sweeps the expired ones away."""

from __future__ import annotations

import asyncio
import io
import sqlite3
import time
from pathlib import Path

from memhead import Settings
from memhead.models import ItemKey, NewItem, NewMessage, SessionKey, now_ms
from memhead.providers import build_embedder
from memhead.reindex import reindex
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


async def reindexed(db: Path, base_url: str, model: str) -> tuple[int, str, int, object]:
    store = SqliteStore(str(db))
    await store.setup()
    embedder = build_embedder(Settings(llm_base_url=base_url), model)
    assert embedder is not None
    out = io.StringIO()
    try:
        status = await reindex(store, embedder, out)
        left = len(await store.item_embedding_backlog(limit=1000))
        return status, out.getvalue(), left, await store.embedding_space()
    finally:
        await store.close()
        await embedder.close()


def test_reindex_embeds_items_again_with_the_new_model(tmp_path: Path) -> None:
    db = tmp_path / "items.db"
    asyncio.run(seed(db))
    with FakeOpenAI() as fake:
        status, out, left, space = asyncio.run(reindexed(db, fake.base_url, "fake-embedding"))
        assert (status, left, space) == (0, 0, ("fake-embedding", 16))
        assert "71/71" in out  # one message and 70 live items
        status, out, left, space = asyncio.run(reindexed(db, fake.base_url, "fake-embedding-2"))
        assert (status, left, space) == (0, 0, ("fake-embedding-2", 16))
        assert "dropping the vectors of fake-embedding" in out and "71/71" in out

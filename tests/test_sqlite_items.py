"""Memory items on a real SQLite file: a file from before items gains them, and the cached
item vectors follow what other store objects (other processes) write to the same file."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from memhead.models import ItemKey, NewItem, SessionKey, now_ms
from memhead.stores.sqlite import SqliteStore
from memhead.stores.sqlite.item_vector_cache import MAX_CHUNKS
from memhead.stores.sqlite.items import SMALL_PREFIX
from memhead.stores.sqlite.schema import MIGRATIONS, statements

ITEMS_VERSION = 4
"""The migration that added items; files written before it stop at ``ITEMS_VERSION - 1``."""


def old_file(path: Path) -> None:
    """A store file as main wrote it before items (its migrations never change): the schema
    of the first migrations and one session with a message."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for version, script in enumerate(MIGRATIONS[: ITEMS_VERSION - 1], start=1):
            for statement in statements(script):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        conn.execute(
            "INSERT INTO sessions (tenant, id, created_at, updated_at, last_seq) "
            "VALUES ('default', 'old', 1, 1, 1)"
        )
        conn.execute(
            "INSERT INTO messages (sid, seq, role, content, created_at) "
            "VALUES (1, 1, 'user', 'written before items', 1)"
        )
        conn.execute(
            "INSERT INTO messages_fts (rowid, content, context, day) "
            "VALUES (1, 'written before items', '', '')"
        )


async def test_a_file_from_before_items_opens_and_gains_them(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    old_file(db)
    store = SqliteStore(str(db))
    await store.setup()
    try:
        memory = await store.memory(SessionKey("default", "old"), 12)
        assert [m.content for m in memory.window] == ["written before items"]
        key = ItemKey("default", ("users", "u1"), "pref")
        await store.put_item(key, NewItem({"likes": "tea"}, "likes tea"), now=1000)
        got = await store.get_item(key, now=1001, refresh=False)
        assert got is not None and got.value == {"likes": "tea"}
        assert await store.embedding_backlog_size() == 2  # the old message and the item
        assert await store.check() == []
    finally:
        await store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == len(
            MIGRATIONS
        )


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[tuple[SqliteStore, SqliteStore]]:
    """Two store objects over one file, as two processes would have."""
    first, second = SqliteStore(str(tmp_path / "s.db")), SqliteStore(str(tmp_path / "s.db"))
    await first.setup()
    await second.setup()
    yield first, second
    await first.close()
    await second.close()


def unit(i: int, dims: int = 4) -> list[float]:
    return [1.0 if d == i % dims else 0.0 for d in range(dims)]


async def put_and_embed(store: SqliteStore, names: list[str], dims: int = 4) -> None:
    now = now_ms()
    for name in names:
        await store.put_item(ItemKey("t", ("n", name), name), NewItem({}, name), now=now)
    backlog = await store.item_embedding_backlog(limit=1000)
    vectors = [(p, unit(int(p.text.removeprefix("i")), dims)) for p in backlog]
    await store.store_item_vectors(vectors, model=f"m{dims}")


async def found(store: SqliteStore, vector: list[float], limit: int = 1000) -> list[str]:
    hits = await store.item_vector_search(
        "t", ("n",), vector, filter=None, now=now_ms(), limit=limit
    )
    return [h.item.key for h in hits]


async def test_cached_vectors_follow_writes_of_another_store(
    two: tuple[SqliteStore, SqliteStore],
) -> None:
    reader, writer = two
    await put_and_embed(writer, ["i0", "i1", "i4"])
    assert await found(reader, unit(1), limit=1) == ["i1"]  # read into the cache
    names = {"i0", "i1", "i4"}
    for round_ in range(MAX_CHUNKS + 2):  # each round one more chunk, then a merge
        names.add(f"i{8 + 4 * round_}")
        await put_and_embed(writer, [f"i{8 + 4 * round_}"])
        assert set(await found(reader, unit(0))) == names
    await writer.delete_item(ItemKey("t", ("n", "i4"), "i4"))
    await writer.put_item(ItemKey("t", ("n", "i0"), "i0"), NewItem({}, "i0"), now=now_ms())
    left = names - {"i4", "i0"}  # deleted, and replaced (not yet embedded)
    assert set(await found(reader, unit(0))) == left
    assert set(await found(reader, unit(0), limit=3)) < left
    await put_and_embed(writer, ["i0"])
    assert set(await found(reader, unit(0))) == left | {"i0"}


async def test_cached_vectors_follow_a_reindex_by_another_store(
    two: tuple[SqliteStore, SqliteStore],
) -> None:
    reader, writer = two
    await put_and_embed(writer, ["i0", "i1"])
    assert await found(reader, unit(1)) == ["i1", "i0"]
    await writer.reset_vectors(model="m8", dimensions=8)
    backlog = await writer.item_embedding_backlog(limit=10)
    await writer.store_item_vectors(
        [(p, unit(5, 8)) for p in backlog if p.text == "i0"], model="m8"
    )
    assert await found(reader, unit(5, 8)) == ["i0"]


async def test_a_large_prefix_lists_newest_first_like_a_small_one(tmp_path: Path) -> None:
    """A prefix of more than ``SMALL_PREFIX`` items is listed by another index: same order."""
    store = SqliteStore(str(tmp_path / "big.db"))
    await store.setup()
    try:
        count = SMALL_PREFIX + 10
        await asyncio.gather(
            *[
                store.put_item(
                    ItemKey("t", ("big", f"n{i % 3}"), f"k{i:05}"),
                    NewItem({"even": i % 2 == 0}),
                    now=1000 + i // 2,  # pairs share a time: ties by namespace, then key
                )
                for i in range(count)
            ]
        )
        await store.put_item(ItemKey("t", ("bigger",), "k"), NewItem({}), now=10**6)
        listed = await store.list_items("t", ("big",), filter=None, now=2000, offset=5, limit=count)
        expected = sorted(
            ((1000 + i // 2, f"big\x1fn{i % 3}", f"k{i:05}") for i in range(count)),
            key=lambda t: (-t[0], t[1], t[2]),
        )
        assert [i.key for i in listed] == [k for _, _, k in expected][5:]
        odd = await store.list_items(
            "t", ("big",), filter={"even": False}, now=2000, offset=1, limit=3
        )
        assert [i.key for i in odd] == [k for _, _, k in expected if int(k[1:]) % 2][1:4]
    finally:
        await store.close()


async def test_tenants_pushed_out_of_a_small_vector_cache_are_read_again(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "c.db"), vector_cache_bytes=1)
    await store.setup()
    try:
        for tenant, vector in [("a", unit(0)), ("b", unit(1))]:
            await store.put_item(ItemKey(tenant, ("n",), "k"), NewItem({}, "x"), now=now_ms())
            (pending,) = await store.item_embedding_backlog(limit=10)
            await store.store_item_vectors([(pending, vector)], model="m")
        for tenant, vector in [("a", unit(0)), ("b", unit(1)), ("a", unit(0))]:
            hits = await store.item_vector_search(
                tenant, (), vector, filter=None, now=now_ms(), limit=10
            )
            assert [h.score for h in hits] == [pytest.approx(1.0)]
    finally:
        await store.close()

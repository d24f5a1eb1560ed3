"""Item search on a real SQLite file: a file from before the keyword index knew namespaces
finds its old items after the upgrade, the index's scope tokens confine a search without ever
widening it, and searches running at once on the reader threads (sharing the vector cache)
stay right while items are being written."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import orjson

from memhead.models import ItemKey, NewItem, now_ms
from memhead.retrieval import query_terms
from memhead.stores.sqlite import SqliteStore
from memhead.stores.sqlite.item_rows import encode, scope_tokens
from memhead.stores.sqlite.schema import MIGRATIONS, register_functions, statements

SCOPED = next(i for i, script in enumerate(MIGRATIONS) if "items_fts_scoped" in script)
"""The index of the migration that gave the keyword index its scope column."""

OLD_ITEMS = [
    ("a", ("users", "u1"), "tea", "likes green tea in the morning"),
    ("a", ("users", "u1"), "walk", "walks the dog every evening before tea"),
    ("a", ("users", "u2"), "tea", "drinks black tea"),
    ("b", ("users", "u1"), "tea", "a tea merchant of tenant b"),
]
FILLER = 40
"""Items elsewhere, so that ``("users", "u1")`` is a small share of the file and searches
under it take the scope token (``items.SCOPED_SHARE``)."""


def old_file(path: Path) -> None:
    """A store file as written before the scope column: the migrations before it, and items
    put as the code of then put them (a keyword row of text alone)."""
    rows = OLD_ITEMS + [("a", ("other", f"n{i}"), f"k{i}", "tea for others") for i in range(FILLER)]
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        register_functions(conn)  # the messages' migration before this one calls one
        for version, script in enumerate(MIGRATIONS[:SCOPED], start=1):
            for statement in statements(script):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        for tenant, namespace, key, text in rows:
            cur = conn.execute(
                "INSERT INTO items (tenant, ns, key, value, created_at, updated_at, indexed) "
                "VALUES (?, ?, ?, ?, 1, 1, 1)",
                (tenant, encode(namespace), key, orjson.dumps({"text": text}).decode()),
            )
            conn.execute("INSERT INTO items_fts (rowid, text) VALUES (?, ?)", (cur.lastrowid, text))


def old_scores(path: Path, query: str) -> dict[str, float]:
    """What the old keyword index scored each matching item of tenant a under users.u1."""
    match = " OR ".join(f'"{t}"' for t in query_terms(query))
    with sqlite3.connect(path) as conn:
        found = conn.execute(
            "SELECT i.key, -bm25(items_fts) FROM items_fts JOIN items i ON i.id = items_fts.rowid "
            "WHERE items_fts MATCH ? AND i.tenant = 'a' AND i.ns = ?",
            (match, encode(("users", "u1"))),
        ).fetchall()
    return dict(found)


async def keys(store: SqliteStore, tenant: str, prefix: tuple[str, ...], query: str) -> list[str]:
    hits = await store.item_keyword_search(
        tenant, prefix, query_terms(query), filter=None, now=now_ms(), limit=100
    )
    return [f"{'.'.join(h.item.namespace)}/{h.item.key}" for h in hits]


async def test_items_of_an_old_file_are_found_by_keyword_after_the_upgrade(
    tmp_path: Path,
) -> None:
    db = tmp_path / "old.db"
    old_file(db)
    before = old_scores(db, "tea morning")
    store = SqliteStore(str(db))
    await store.setup()
    try:
        hits = await store.item_keyword_search(
            "a", ("users", "u1"), query_terms("tea morning"), filter=None, now=now_ms(), limit=10
        )
        assert [h.item.key for h in hits] == ["tea", "walk"]
        # The same order as before; the scores move a little, as BM25's length
        # normalisation counts every column of a row, the scope tokens too.
        assert sorted(before, key=before.__getitem__, reverse=True) == ["tea", "walk"]
        assert all(h.score > 0 for h in hits)
        assert sorted(await keys(store, "a", ("users",), "tea")) == [
            "users.u1/tea",
            "users.u1/walk",
            "users.u2/tea",
        ]
        assert await keys(store, "b", (), "tea") == ["users.u1/tea"]
        assert len(await keys(store, "a", (), "tea")) == 3 + FILLER
        # Items put after the upgrade are found beside the old ones.
        await store.put_item(
            ItemKey("a", ("users", "u1"), "new"), NewItem({}, "tea at noon"), now=now_ms()
        )
        assert set(await keys(store, "a", ("users", "u1"), "tea")) == {
            "users.u1/tea",
            "users.u1/walk",
            "users.u1/new",
        }
        assert await store.check() == []
    finally:
        await store.close()
    with sqlite3.connect(db) as conn:
        versions = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    assert versions == len(MIGRATIONS)


async def test_a_wrong_scope_token_never_widens_a_search(tmp_path: Path) -> None:
    """Tokens only narrow: a row of tenant b carrying tenant a's tokens (a collision, or a
    stale row) is still held to the exact tenant and prefix conditions."""
    db = tmp_path / "s.db"
    store = SqliteStore(str(db))
    await store.setup()
    try:
        for i in range(FILLER):
            await store.put_item(ItemKey("a", ("other",), f"k{i}"), NewItem({}, "x"), now=1)
        await store.put_item(ItemKey("a", ("users", "u1"), "mine"), NewItem({}, "tea"), now=1)
        await store.put_item(ItemKey("b", ("users", "u1"), "theirs"), NewItem({}, "tea"), now=1)
        await store.put_item(ItemKey("a", ("users", "u2"), "next"), NewItem({}, "tea"), now=1)
        with sqlite3.connect(db) as conn:
            conn.execute(
                "UPDATE items_fts SET scope = ? WHERE rowid IN "
                "(SELECT id FROM items WHERE key IN ('theirs', 'next'))",
                (scope_tokens("a", encode(("users", "u1"))),),
            )
        assert await keys(store, "a", ("users", "u1"), "tea") == ["users.u1/mine"]
        assert await keys(store, "b", ("users", "u1"), "tea") == []  # its token is gone
    finally:
        await store.close()


def unit(i: int, dims: int) -> list[float]:
    return [1.0 if d == i else 0.0 for d in range(dims)]


async def put_embedded(store: SqliteStore, key: ItemKey, text: str, vector: list[float]) -> None:
    await store.put_item(key, NewItem({"text": text}, text), now=now_ms())
    backlog = await store.item_embedding_backlog(limit=1000)
    await store.store_item_vectors([(p, vector) for p in backlog if p.key == key], model="m")


async def test_concurrent_searches_stay_right_while_items_are_put(tmp_path: Path) -> None:
    dims = 32
    store = SqliteStore(str(tmp_path / "c.db"))
    await store.setup()
    try:
        for i in range(dims):
            key = ItemKey("t", ("users", f"u{i % 4}"), f"k{i}")
            await put_embedded(store, key, f"word{i} shared", unit(i, dims))

        async def by_keyword(i: int) -> None:
            found = await keys(store, "t", ("users", f"u{i % 4}"), f"word{i}")
            assert found == [f"users.u{i % 4}/k{i}"]

        async def by_vector(i: int) -> None:
            hits = await store.item_vector_search(
                "t", ("users",), unit(i, dims), filter=None, now=now_ms(), limit=3
            )
            assert hits[0].item.key == f"k{i}" and abs(hits[0].score - 1.0) < 1e-5
            assert all(h.score < 0.75 for h in hits[1:])

        async def put(j: int) -> None:
            # New items elsewhere, with vectors close to the searched ones: each store of a
            # vector extends the cache the searches are reading.
            vector = [1.0 if d in (j % dims, (j + 1) % dims) else 0.0 for d in range(dims)]
            await put_embedded(store, ItemKey("t", ("users", "late"), f"n{j}"), "later", vector)

        work = [by_keyword(i % dims) for i in range(200)]
        work += [by_vector(i % dims) for i in range(200)]
        work += [put(j) for j in range(60)]
        await asyncio.gather(*work)
        late = await keys(store, "t", ("users", "late"), "later")
        assert len(late) == 60
    finally:
        await store.close()

"""SQLite message search beyond the contract: the scope tokens of the keyword index (kept
current when a session changes user, and added to a version-5 database by migration 6) and the
per-scope vector matrices kept current as vectors are stored, reset and moved."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

from memhead.models import SearchScope, SessionKey, SessionPatch
from memhead.retrieval import keyword_fields
from memhead.stores.sqlite import SqliteStore
from memhead.stores.sqlite.schema import MIGRATIONS, statements
from tests.contract.messages import add, embed_all, vec

BEFORE_SCOPE_TOKENS = 5


def version_5_database(path: Path) -> None:
    """A database as the migrations before scope tokens left it, with two users' messages."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version, script in enumerate(MIGRATIONS[:BEFORE_SCOPE_TOKENS], start=1):
        for statement in statements(script):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
    for sid, user, content in ((1, "ann", "apples in the orchard"), (2, "bob", "apples again")):
        conn.execute(
            "INSERT INTO sessions (sid, tenant, id, user_id, created_at, updated_at, last_seq) "
            "VALUES (?, 't', ?, ?, 0, 0, 1)",
            (sid, f"s{sid}", user),
        )
        conn.execute(
            "INSERT INTO messages (id, sid, seq, role, content, created_at) "
            "VALUES (?, ?, 1, 'user', ?, 0)",
            (sid, sid, content),
        )
        fields = keyword_fields(content, None, datetime(2023, 5, 8))
        conn.execute(
            "INSERT INTO messages_fts (rowid, content, context, day) VALUES (?, ?, ?, ?)",
            (sid, *fields),
        )
    conn.close()


async def test_a_version_5_database_gains_scope_tokens_and_keeps_its_messages(
    tmp_path: Path,
) -> None:
    version_5_database(tmp_path / "old.db")
    store = SqliteStore(str(tmp_path / "old.db"))
    await store.setup()
    try:
        hits = await store.keyword_search(SearchScope("t", user_id="ann"), ["apples"], 10)
        assert [(h.session_id, h.message.content) for h in hits] == [
            ("s1", "apples in the orchard")
        ]
        hits = await store.keyword_search(SearchScope("t"), ["apples"], 10)
        assert sorted(h.session_id for h in hits) == ["s1", "s2"]
        assert await store.keyword_search(SearchScope("other"), ["apples"], 10) == []
        assert await store.check() == []
    finally:
        await store.close()


async def test_a_session_given_to_another_user_is_searched_in_the_new_users_scope(
    tmp_path: Path,
) -> None:
    store = SqliteStore(str(tmp_path / "s.db"))
    await store.setup()
    try:
        key = SessionKey("t", "s")
        await store.put_session(key, SessionPatch(user_id="ann"), now=1)
        await add(store, key, "north wind", "east wind")
        await embed_all(store, {"north wind": vec(1, 0), "east wind": vec(0, 1)})
        ann, bob = SearchScope("t", user_id="ann"), SearchScope("t", user_id="bob")
        assert len(await store.keyword_search(ann, ["wind"], 10)) == 2
        assert len(await store.vector_search(ann, vec(1, 0), 10)) == 2  # cached for ann

        await store.put_session(key, SessionPatch(user_id="bob"), now=2)

        assert await store.keyword_search(ann, ["wind"], 10) == []
        assert await store.vector_search(ann, vec(1, 0), 10) == []
        hits = await store.keyword_search(bob, ["east"], 10)
        assert [h.message.content for h in hits] == ["east wind"]
        hits = await store.vector_search(bob, vec(0, 1), 10)
        assert [h.message.content for h in hits] == ["east wind", "north wind"]
        assert await store.check() == []
    finally:
        await store.close()


async def test_vectors_stored_after_a_search_are_found_in_the_same_scope(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.db"))
    await store.setup()
    try:
        scope = SearchScope("t", user_id="ann")
        first, second = SessionKey("t", "a"), SessionKey("t", "b")
        for key in (first, second):
            await store.put_session(key, SessionPatch(user_id="ann"), now=1)
        await add(store, first, "one")
        await embed_all(store, {"one": vec(1, 0)})
        assert [h.message.content for h in await store.vector_search(scope, vec(1), 10)] == ["one"]
        # Many more than the matrix's spare room, in an old session and a new one.
        more = {f"more {i}": vec(0, 1, i / 100) for i in range(150)}
        await add(store, first, *list(more)[:75])
        await add(store, second, *list(more)[75:])
        await embed_all(store, more)
        hits = await store.vector_search(scope, vec(1), 200)
        assert len(hits) == 151
        assert hits[0].message.content == "one"
        hits = await store.vector_search(scope, vec(0, 1, 1.49), 1)
        assert [h.message.content for h in hits] == ["more 149"]
    finally:
        await store.close()


async def test_a_reindex_replaces_the_cached_vectors(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.db"))
    await store.setup()
    try:
        scope = SearchScope("t", user_id="ann")
        key = SessionKey("t", "a")
        await store.put_session(key, SessionPatch(user_id="ann"), now=1)
        await add(store, key, "up", "right")
        await embed_all(store, {"up": vec(1, 0), "right": vec(0, 1)})
        assert (await store.vector_search(scope, vec(1, 0), 1))[0].message.content == "up"

        await store.reset_vectors(model="m2", dimensions=4)
        backlog = await store.embedding_backlog(limit=10)
        swapped = {"up": vec(0, 1), "right": vec(1, 0)}  # as many vectors, other values
        await store.store_vectors([(p, swapped[p.message.content]) for p in backlog], model="m2")

        assert (await store.vector_search(scope, vec(1, 0), 1))[0].message.content == "right"
    finally:
        await store.close()


async def test_check_reports_keyword_rows_with_stale_scope_tokens(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SqliteStore(str(path))
    await store.setup()
    try:
        await add(store, SessionKey("t", "s"), "hello there")
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE messages_fts SET scope = 'tstale nstale sstale'")
        assert await store.check() == [
            "1 keyword rows hold the scope tokens of another tenant, user or session"
        ]
    finally:
        await store.close()


async def test_a_user_with_most_messages_never_gets_a_better_match_of_someone_else(
    tmp_path: Path,
) -> None:
    """Ann holds most of the store, so her search ranks the terms alone first; Bob's and the
    other tenant's messages match the query better, and must send it to the scoped path."""
    store = SqliteStore(str(tmp_path / "s.db"))
    await store.setup()
    try:
        ann_key, bob_key, other_key = (
            SessionKey("t", "a"),
            SessionKey("t", "b"),
            SessionKey("u", "c"),
        )
        await store.put_session(ann_key, SessionPatch(user_id="ann"), now=1)
        await store.put_session(bob_key, SessionPatch(user_id="bob"), now=1)
        await add(store, ann_key, *[f"filler {i}" for i in range(20)], "a kite on the hill")
        await add(store, bob_key, "kite kite kite")
        await add(store, other_key, "kite kite")
        hits = await store.keyword_search(SearchScope("t", user_id="ann"), ["kite"], 1)
        assert [(h.session_id, h.message.content) for h in hits] == [("a", "a kite on the hill")]
        hits = await store.keyword_search(SearchScope("t"), ["kite"], 2)
        assert [h.session_id for h in hits] == ["b", "a"]
        hits = await store.keyword_search(SearchScope("t", user_id="bob"), ["kite"], 5)
        assert [h.session_id for h in hits] == ["b"]
    finally:
        await store.close()

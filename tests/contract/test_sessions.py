"""The ``Sessions`` role: appends, seq order, idempotent ids, window, history and span (the
messages), then session records, context, delete, listing and namespaces."""

from __future__ import annotations

import asyncio

from memhead.models import NewMessage, SessionKey, SessionPatch
from memhead.stores import Store

KEY = SessionKey("t1", "s-1")
W = 12


def msgs(*contents: str, role: str = "user") -> list[NewMessage]:
    return [NewMessage(role, c) for c in contents]


async def test_append_creates_session_and_assigns_increasing_seq(store: Store) -> None:
    first = await store.append(KEY, msgs("a", "b"), now=1000, window=W)
    second = await store.append(KEY, msgs("c"), now=2000, window=W)
    assert [m.seq for m in first + second] == [1, 2, 3]
    session = await store.get_session(KEY)
    assert session is not None
    assert session.last_seq == 3
    assert session.created_at == 1000
    assert session.updated_at == 2000
    assert session.summary is None and session.upto_seq == 0 and session.tokens == 0


async def test_append_keeps_roles_content_metadata_and_times(store: Store) -> None:
    new = [
        NewMessage("Human", "héllo: wörld 🎸", metadata={"k": [1, 2]}, created_at=5),
        NewMessage("AI", "line\nbreak: \x00 nul", client_id="c-1"),
    ]
    stored = await store.append(KEY, new, now=1000, window=W)
    assert stored[0].metadata == {"k": [1, 2]} and stored[0].created_at == 5
    assert stored[1].created_at == 1000 and stored[1].client_id == "c-1"
    history = await store.history(KEY, before_seq=None, limit=10)
    assert [(m.role, m.content) for m in history] == [
        ("AI", "line\nbreak: \x00 nul"),
        ("Human", "héllo: wörld 🎸"),
    ]
    assert history[1].metadata == {"k": [1, 2]}


async def test_retried_client_ids_are_stored_once(store: Store) -> None:
    batch = [NewMessage("user", "x", client_id="a"), NewMessage("assistant", "y", client_id="b")]
    first = await store.append(KEY, batch, now=1, window=W)
    again = await store.append(
        KEY, [*batch, NewMessage("user", "z", client_id="c")], now=2, window=W
    )
    assert [m.seq for m in first] == [1, 2]
    assert [m.seq for m in again] == [1, 2, 3]
    assert len(await store.history(KEY, before_seq=None, limit=100)) == 3


async def test_duplicate_client_id_within_one_append_is_stored_once(store: Store) -> None:
    batch = [NewMessage("user", "x", client_id="a"), NewMessage("user", "x", client_id="a")]
    stored = await store.append(KEY, batch, now=1, window=W)
    assert [m.seq for m in stored] == [1, 1]
    assert len(await store.history(KEY, before_seq=None, limit=100)) == 1


async def test_memory_returns_newest_unsummarized_first_at_most_window(store: Store) -> None:
    await store.append(KEY, msgs(*[f"m{i}" for i in range(1, 21)]), now=1, window=W)
    memory = await store.memory(KEY, 5)
    assert [m.seq for m in memory.window] == [20, 19, 18, 17, 16]
    assert memory.session is not None and memory.session.last_seq == 20


async def test_memory_of_unknown_session_is_empty(store: Store) -> None:
    memory = await store.memory(SessionKey("t1", "nope"), W)
    assert memory.session is None and memory.window == []


async def test_history_pages_backwards(store: Store) -> None:
    await store.append(KEY, msgs(*[f"m{i}" for i in range(1, 8)]), now=1, window=W)
    page1 = await store.history(KEY, before_seq=None, limit=3)
    page2 = await store.history(KEY, before_seq=page1[-1].seq, limit=3)
    page3 = await store.history(KEY, before_seq=page2[-1].seq, limit=3)
    assert [m.seq for m in page1 + page2 + page3] == [7, 6, 5, 4, 3, 2, 1]


async def test_span_is_oldest_first_and_bounded(store: Store) -> None:
    await store.append(KEY, msgs(*[f"m{i}" for i in range(1, 8)]), now=1, window=W)
    assert [m.content for m in await store.span(KEY, after_seq=2, through_seq=5)] == [
        "m3",
        "m4",
        "m5",
    ]


async def test_sessions_are_matched_exactly_and_per_tenant(store: Store) -> None:
    ids = ["ABC", "abc", "a-b:c d", "ünï/cødé", "x" * 300]
    for i, sid in enumerate(ids):
        await store.append(SessionKey("t1", sid), msgs(f"for {i}"), now=1, window=W)
    await store.append(SessionKey("t2", "ABC"), msgs("other tenant"), now=1, window=W)
    for i, sid in enumerate(ids):
        memory = await store.memory(SessionKey("t1", sid), W)
        assert [m.content for m in memory.window] == [f"for {i}"]
    other = await store.memory(SessionKey("t2", "ABC"), W)
    assert [m.content for m in other.window] == ["other tenant"]


async def test_concurrent_appends_lose_nothing_and_seq_has_no_gaps(store: Store) -> None:
    async def post(i: int) -> None:
        await store.append(KEY, msgs(f"a{i}", f"b{i}"), now=i, window=W)

    await asyncio.gather(*(post(i) for i in range(50)))
    history = await store.history(KEY, before_seq=None, limit=1000)
    assert sorted(m.seq for m in history) == list(range(1, 101))
    by_seq = {m.seq: m.content for m in history}
    for seq in range(1, 101, 2):  # each pair stays adjacent and in order
        assert by_seq[seq][1:] == by_seq[seq + 1][1:]
        assert by_seq[seq][0] == "a" and by_seq[seq + 1][0] == "b"


def one(content: str = "hi") -> list[NewMessage]:
    return [NewMessage("user", content)]


async def test_context_replaces_summary_and_bumps_version(store: Store) -> None:
    key = SessionKey("t", "s")
    await store.append(key, one(), now=1, window=W, context="seeded summary")
    session = await store.get_session(key)
    assert session is not None
    assert session.summary == "seeded summary" and session.summary_version == 1
    await store.append(key, one(), now=2, window=W)  # no context: summary untouched
    await store.append(key, one(), now=3, window=W, context="")
    session = await store.get_session(key)
    assert session is not None and session.summary == "" and session.summary_version == 2


async def test_delete_removes_everything_and_a_new_session_starts_fresh(store: Store) -> None:
    key = SessionKey("t", "s")
    await store.append(key, one("old"), now=1, window=W, context="ctx")
    before = await store.get_session(key)
    assert await store.delete_session(key) is True
    assert await store.delete_session(key) is False
    assert await store.get_session(key) is None
    assert await store.history(key, before_seq=None, limit=10) == []
    assert await store.list_namespace("t", "", offset=0, limit=10) == []
    await store.append(key, one("new"), now=2, window=W)
    after = await store.get_session(key)
    assert after is not None and before is not None
    assert after.incarnation != before.incarnation
    assert after.summary is None and after.last_seq == 1
    assert [m.content for m in (await store.memory(key, W)).window] == ["new"]


async def test_namespace_listing_is_least_recently_written_first(store: Store) -> None:
    for i, sid in enumerate(["a", "b", "c"]):
        await store.append(SessionKey("t", sid), one(), now=10 + i, window=W)
    await store.append(SessionKey("t", "a"), one(), now=20, window=W)
    await store.append(SessionKey("t", "n1"), one(), now=5, window=W, namespace="ns")
    assert await store.list_namespace("t", "", offset=0, limit=10) == ["b", "c", "a"]
    assert await store.list_namespace("t", "", offset=1, limit=1) == ["c"]
    assert await store.list_namespace("t", "ns", offset=0, limit=10) == ["n1"]
    assert await store.list_namespace("other", "", offset=0, limit=10) == []


async def test_namespace_is_kept_by_appends_without_one(store: Store) -> None:
    key = SessionKey("t", "s")
    await store.append(key, one(), now=1, window=W, namespace="ns")
    await store.append(key, one(), now=2, window=W)
    assert await store.list_namespace("t", "ns", offset=0, limit=10) == ["s"]


async def test_put_session_creates_and_patches(store: Store) -> None:
    key = SessionKey("t", "s")
    created = await store.put_session(key, SessionPatch(user_id="u1", metadata={"a": 1}), now=5)
    assert created.user_id == "u1" and created.metadata == {"a": 1} and created.created_at == 5
    patched = await store.put_session(key, SessionPatch(metadata={"b": 2}), now=6)
    assert patched.user_id == "u1" and patched.metadata == {"b": 2}
    assert patched.created_at == 5 and patched.updated_at == 6


async def test_list_sessions_most_recent_first_with_cursor_and_user_filter(store: Store) -> None:
    for i in range(5):
        user = "u1" if i % 2 == 0 else "u2"
        await store.put_session(SessionKey("t", f"s{i}"), SessionPatch(user_id=user), now=100 + i)
    page = await store.list_sessions("t", user_id=None, before=None, limit=2)
    assert [s.id for s in page] == ["s4", "s3"]
    cursor = (page[-1].updated_at, page[-1].id)
    page2 = await store.list_sessions("t", user_id=None, before=cursor, limit=10)
    assert [s.id for s in page2] == ["s2", "s1", "s0"]
    mine = await store.list_sessions("t", user_id="u1", before=None, limit=10)
    assert [s.id for s in mine] == ["s4", "s2", "s0"]
    assert await store.list_sessions("other", user_id=None, before=None, limit=10) == []


async def test_list_sessions_filters_by_namespace_alone_and_with_user(store: Store) -> None:
    layout = [("a", "ns", "u1"), ("b", "ns", "u2"), ("c", "", "u1"), ("d", "ns", "u1")]
    for i, (sid, namespace, user) in enumerate(layout):
        key = SessionKey("t", sid)
        await store.append(key, one(), now=100, window=W, namespace=namespace)  # ties at 100
        await store.put_session(key, SessionPatch(user_id=user), now=100 + i // 2)
    in_ns = await store.list_sessions("t", user_id=None, before=None, limit=10, namespace="ns")
    assert [s.id for s in in_ns] == ["d", "b", "a"]
    first = await store.list_sessions("t", user_id=None, before=None, limit=2, namespace="ns")
    cursor = (first[-1].updated_at, first[-1].id)
    rest = await store.list_sessions("t", user_id=None, before=cursor, limit=10, namespace="ns")
    assert [s.id for s in first] + [s.id for s in rest] == ["d", "b", "a"]
    default = await store.list_sessions("t", user_id=None, before=None, limit=10, namespace="")
    assert [s.id for s in default] == ["c"]
    mine = await store.list_sessions("t", user_id="u1", before=None, limit=10, namespace="ns")
    assert [s.id for s in mine] == ["d", "a"]
    after_d = (mine[0].updated_at, mine[0].id)
    older = await store.list_sessions("t", user_id="u1", before=after_d, limit=1, namespace="ns")
    assert [s.id for s in older] == ["a"]
    assert await store.list_sessions("t", user_id=None, before=None, limit=5, namespace="x") == []


async def test_one_users_sessions_in_a_namespace_are_found_past_many_others(
    store: Store,
) -> None:
    target = SessionKey("t", "old-in-ns")
    await store.append(target, one(), now=1, window=W, namespace="ns")
    await store.put_session(target, SessionPatch(user_id="u"), now=1)
    for i in range(150):  # newer sessions of the same user in another namespace
        await store.put_session(SessionKey("t", f"s{i:03d}"), SessionPatch(user_id="u"), now=10 + i)
    found = await store.list_sessions("t", user_id="u", before=None, limit=5, namespace="ns")
    assert [s.id for s in found] == ["old-in-ns"]

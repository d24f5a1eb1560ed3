"""Appends, seq order, idempotent ids, window, history: the message half of the contract."""

from __future__ import annotations

import asyncio

from memhead.models import NewMessage, SessionKey
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

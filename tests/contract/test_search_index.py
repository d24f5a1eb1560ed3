"""The ``SearchIndex`` role: keyword and vector search, scoping, filters, delete, unicode,
punctuation, and messages fetched by position."""

from __future__ import annotations

import pytest

from memhead.errors import EmbeddingMismatch
from memhead.models import NewMessage, SearchScope, SessionKey, SessionPatch
from memhead.stores import Store
from tests.contract.messages import W, add, embed_all, vec


async def test_keyword_search_finds_a_message_right_after_the_append(store: Store) -> None:
    key = SessionKey("t", "s-1")
    await add(store, key, "My sister is called Inès", "We went hiking in the Alps")
    hits = await store.keyword_search(SearchScope("t", session_id="s-1"), ["sister"], 10)
    assert hits[0].message.content == "My sister is called Inès"
    assert hits[0].session_id == "s-1" and hits[0].message.seq == 1
    # The next message matches too, weaker, through its context (the message before it).
    assert [h.message.seq for h in hits] == [1, 2] and hits[1].score < hits[0].score


async def test_keyword_search_ranks_by_bm25_and_stems(store: Store) -> None:
    key = SessionKey("t", "s")
    await add(store, key, "hiking hiking in the mountains", "cooking pasta", "we hiked once")
    hits = await store.keyword_search(SearchScope("t", session_id="s"), ["hike"], 10)
    assert [h.message.seq for h in hits][:2] == [1, 3]  # the message itself before its context
    assert hits[0].score >= hits[1].score
    assert await store.keyword_search(SearchScope("t", session_id="s"), ["pasta"], 10)


async def test_keyword_search_handles_unicode_and_punctuation(store: Store) -> None:
    key = SessionKey("t", "a-b:c d")
    await add(store, key, "Zoë visited Zürich", 'quote " and NEAR(x) and -minus * star')
    scope = SearchScope("t", session_id="a-b:c d")
    hits = await store.keyword_search(scope, ["zurich"], 10)
    assert hits[0].message.content == "Zoë visited Zürich"
    for term in ['"', "NEAR", "-minus", "*", "a:b", "OR"]:
        await store.keyword_search(scope, [term], 10)  # never a syntax error


async def test_search_is_scoped_to_the_session_and_the_tenant(store: Store) -> None:
    await add(store, SessionKey("t", "mine"), "secret plan alpha")
    await add(store, SessionKey("t", "other"), "secret plan beta")
    await add(store, SessionKey("t2", "mine"), "secret plan gamma")
    hits = await store.keyword_search(SearchScope("t", session_id="mine"), ["secret"], 10)
    assert [h.message.content for h in hits] == ["secret plan alpha"]
    hits = await store.keyword_search(SearchScope("t2", session_id="mine"), ["secret"], 10)
    assert [h.message.content for h in hits] == ["secret plan gamma"]


async def test_user_scope_searches_all_of_the_users_sessions(store: Store) -> None:
    for sid, user in [("a", "u1"), ("b", "u1"), ("c", "u2")]:
        await store.put_session(SessionKey("t", sid), SessionPatch(user_id=user), now=1)
        await add(store, SessionKey("t", sid), f"pizza in session {sid}")
    hits = await store.keyword_search(SearchScope("t", user_id="u1"), ["pizza"], 10)
    assert sorted(h.session_id for h in hits) == ["a", "b"]


async def test_filters_by_time_and_role(store: Store) -> None:
    key = SessionKey("t", "s")
    await add(store, key, "old coffee", at=1000)
    await add(store, key, "new coffee", at=5000)
    scope = SearchScope("t", session_id="s", since=2000)
    hits = await store.keyword_search(scope, ["coffee"], 10)
    assert [h.message.content for h in hits] == ["new coffee"]
    scope = SearchScope("t", session_id="s", until=2000)
    hits = await store.keyword_search(scope, ["coffee"], 10)
    assert [h.message.content for h in hits] == ["old coffee"]
    await store.append(key, [NewMessage("assistant", "bot tea")], now=6000, window=W)
    await store.append(key, [NewMessage("user", "more tea")], now=7000, window=W)
    scope = SearchScope("t", session_id="s", roles=("assistant",))
    hits = await store.keyword_search(scope, ["tea"], 10)
    assert [h.message.content for h in hits] == ["bot tea"]


async def test_keyword_search_matches_the_day_in_words(store: Store) -> None:
    key = SessionKey("t", "s")
    await add(store, key, "we met at the lake", at=1683590400000)  # Tuesday 9 May 2023
    await add(store, key, "another day", at=1700000000000)
    hits = await store.keyword_search(SearchScope("t", session_id="s"), ["may", "2023"], 10)
    assert hits[0].message.content == "we met at the lake"


async def test_vector_search_ranks_by_cosine_within_scope(store: Store) -> None:
    await add(store, SessionKey("t", "s"), "north", "east", "north-east")
    await add(store, SessionKey("t", "x"), "elsewhere")
    vectors = {
        "north": vec(1, 0),
        "east": vec(0, 1),
        "north-east": vec(1, 1),
        "elsewhere": vec(1, 0),
    }
    await embed_all(store, vectors)
    assert await store.embedding_backlog(limit=10) == []
    hits = await store.vector_search(SearchScope("t", session_id="s"), vec(1, 0.1), 10)
    assert [h.message.content for h in hits] == ["north", "north-east", "east"]
    assert hits[0].score == pytest.approx(0.995, abs=0.01)
    assert hits[2].score < hits[1].score < hits[0].score
    hits = await store.vector_search(SearchScope("t", session_id="s"), vec(0, 1), 1)
    assert [h.message.content for h in hits] == ["east"]


async def test_vectors_added_later_are_found(store: Store) -> None:
    key = SessionKey("t", "s")
    await add(store, key, "first")
    await embed_all(store, {"first": vec(1, 0)})
    assert len(await store.vector_search(SearchScope("t", session_id="s"), vec(1, 0), 10)) == 1
    await add(store, key, "second")
    await embed_all(store, {"second": vec(0, 1)})
    hits = await store.vector_search(SearchScope("t", session_id="s"), vec(0, 1), 10)
    assert [h.message.content for h in hits] == ["second", "first"]


async def test_vector_search_applies_filters(store: Store) -> None:
    key = SessionKey("t", "s")
    await add(store, key, "a", at=1000)
    await add(store, key, "b", at=5000)
    await embed_all(store, {"a": vec(1, 0), "b": vec(1, 0.2)})
    hits = await store.vector_search(SearchScope("t", session_id="s", since=2000), vec(1, 0), 10)
    assert [h.message.content for h in hits] == ["b"]


async def test_delete_removes_messages_from_both_indexes(store: Store) -> None:
    key = SessionKey("t", "s")
    await add(store, key, "forget me")
    await embed_all(store, {"forget me": vec(1, 0)})
    await store.delete_session(key)
    scope = SearchScope("t", session_id="s")
    assert await store.keyword_search(scope, ["forget"], 10) == []
    assert await store.vector_search(scope, vec(1, 0), 10) == []
    await add(store, key, "fresh start")
    assert await store.vector_search(scope, vec(1, 0), 10) == []
    assert [p.message.content for p in await store.embedding_backlog(limit=10)] == ["fresh start"]


async def test_fetch_returns_messages_at_positions_in_order(store: Store) -> None:
    await add(store, SessionKey("t", "a"), "a1", "a2", "a3")
    await add(store, SessionKey("t", "b:c"), "b1")
    await add(store, SessionKey("t2", "a"), "other tenant")
    hits = await store.fetch("t", [("a", 3), ("b:c", 1), ("a", 9), ("a", 0), ("zz", 1), ("a", 1)])
    assert [(h.session_id, h.message.content) for h in hits] == [
        ("a", "a3"),
        ("b:c", "b1"),
        ("a", "a1"),
    ]
    assert await store.fetch("t", []) == []


async def test_similarities_of_positions_in_one_call(store: Store) -> None:
    await add(store, SessionKey("t", "s"), "east", "north", "both")
    await add(store, SessionKey("t2", "s"), "other tenant")
    await embed_all(
        store, {"east": vec(1, 0), "north": vec(0, 2), "both": vec(1, 1), "other tenant": vec(1)}
    )
    await add(store, SessionKey("t", "s"), "not yet embedded")
    asked = [("s", 3), ("s", 1), ("s", 4), ("s", 99), ("nope", 1), ("s", 2)]
    found = await store.similarities("t", asked, vec(3, 0))
    assert found[0] == pytest.approx(2**-0.5, abs=1e-5)
    assert found[1] == pytest.approx(1.0, abs=1e-5)
    assert found[2:5] == [None, None, None]
    assert found[5] == pytest.approx(0.0, abs=1e-5)
    assert await store.similarities("t", [], vec(1)) == []
    with pytest.raises(EmbeddingMismatch):
        await store.similarities("t", [("s", 1)], [1.0, 0.0])

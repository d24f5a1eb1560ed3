"""The ``EmbeddingQueue`` role: the backlog of messages without a vector, and storing vectors
(one embedding space per store)."""

from __future__ import annotations

import pytest

from memhead.errors import EmbeddingMismatch
from memhead.models import SearchScope, SessionKey
from memhead.stores import Store
from tests.contract.messages import add, embed_all, vec


async def test_vectors_for_deleted_sessions_are_skipped(store: Store) -> None:
    key = SessionKey("t", "s")
    await add(store, key, "gone soon")
    backlog = await store.embedding_backlog(limit=10)
    await store.delete_session(key)
    await store.store_vectors([(backlog[0], vec(1, 0))], model="m")
    await add(store, key, "again")
    assert await store.vector_search(SearchScope("t", session_id="s"), vec(1, 0), 10) == []


async def test_another_dimension_or_model_is_a_clear_error(store: Store) -> None:
    key = SessionKey("t", "s")
    await add(store, key, "one", "two")
    first, second = await store.embedding_backlog(limit=10)
    await store.store_vectors([(first, vec(1, 0))], model="m")
    with pytest.raises(EmbeddingMismatch):
        await store.store_vectors([(second, [1.0, 0.0])], model="m")
    with pytest.raises(EmbeddingMismatch):
        await store.store_vectors([(second, vec(1, 0))], model="other")
    with pytest.raises(EmbeddingMismatch):
        await store.vector_search(SearchScope("t", session_id="s"), [1.0, 0.0], 10)


async def test_backlog_is_oldest_first_bounded_and_drained_by_storing(store: Store) -> None:
    assert await store.embedding_backlog(limit=10) == []
    await add(store, SessionKey("t", "a"), "a1", "a2", at=1000)
    await add(store, SessionKey("t", "b"), "b1", at=2000)
    backlog = await store.embedding_backlog(limit=2)
    assert [(p.key, p.message.seq, p.message.content) for p in backlog] == [
        (SessionKey("t", "a"), 1, "a1"),
        (SessionKey("t", "a"), 2, "a2"),
    ]
    await store.store_vectors([(p, vec(1, 0)) for p in backlog], model="m")
    assert [p.message.content for p in await store.embedding_backlog(limit=10)] == ["b1"]


async def test_a_message_embedded_twice_keeps_its_first_vector(store: Store) -> None:
    await add(store, SessionKey("t", "s"), "x")
    (pending,) = await store.embedding_backlog(limit=10)
    await store.store_vectors([(pending, vec(1, 0))], model="m")
    await store.store_vectors([(pending, vec(0, 1))], model="m")  # another worker, late
    hits = await store.vector_search(SearchScope("t", session_id="s"), vec(1, 0), 10)
    assert [h.message.content for h in hits] == ["x"]
    assert hits[0].score == pytest.approx(1.0, abs=0.01)


async def test_the_recorded_space_is_the_first_vectors_model_and_dimension(store: Store) -> None:
    assert await store.embedding_space() is None
    await add(store, SessionKey("t", "s"), "one", "two")
    assert await store.embedding_backlog_size() == 2
    first, _ = await store.embedding_backlog(limit=10)
    await store.store_vectors([(first, vec(1, 0))], model="m")
    assert await store.embedding_space() == ("m", 4)
    assert await store.embedding_backlog_size() == 1


async def test_reset_puts_every_message_back_and_frees_the_space(store: Store) -> None:
    await add(store, SessionKey("t", "a"), "a1", "a2", at=1000)
    await add(store, SessionKey("u", "b"), "b1", at=2000)
    await embed_all(store, {"a1": vec(1, 0), "a2": vec(0, 1), "b1": vec(1, 1)})
    assert await store.embedding_backlog_size() == 0
    await store.reset_vectors(model="wide", dimensions=8)
    await store.reset_vectors(model="wide", dimensions=8)  # run again: nothing changes
    assert await store.embedding_space() == ("wide", 8)
    assert await store.embedding_backlog_size() == 3
    backlog = await store.embedding_backlog(limit=10)
    assert [p.message.content for p in backlog] == ["a1", "a2", "b1"]
    assert await store.vector_search(SearchScope("t", session_id="a"), [1.0] + [0.0] * 7, 10) == []
    assert await store.similarities("t", [("a", 1)], [1.0] + [0.0] * 7) == [None]
    # The old model can store nothing from now on; the new one's vectors are searchable.
    with pytest.raises(EmbeddingMismatch):
        await store.store_vectors([(backlog[0], vec(1, 0))], model="m")
    wide = {"a1": [1.0] + [0.0] * 7, "a2": [0.0, 1.0] + [0.0] * 6, "b1": [0.0] * 7 + [1.0]}
    await store.store_vectors([(p, wide[p.message.content]) for p in backlog], model="wide")
    assert await store.embedding_backlog_size() == 0
    hits = await store.vector_search(SearchScope("t", session_id="a"), wide["a2"], 10)
    assert [h.message.content for h in hits][0] == "a2"
    with pytest.raises(EmbeddingMismatch):
        await store.vector_search(SearchScope("t", session_id="a"), vec(1, 0), 10)


async def test_reset_keeps_vectors_of_the_new_space_stored_in_between(store: Store) -> None:
    """A worker of the new model may store vectors while a reset runs (or between an
    interrupted one and its rerun): they are kept or their messages requeued, never lost."""
    await add(store, SessionKey("t", "s"), "x", "y")
    await store.reset_vectors(model="m", dimensions=4)
    first, second = await store.embedding_backlog(limit=10)
    await store.store_vectors([(first, vec(1, 0))], model="m")
    await store.reset_vectors(model="m", dimensions=4)
    left = await store.embedding_backlog(limit=10)
    await store.store_vectors([(p, vec(0, 1)) for p in left], model="m")
    assert await store.embedding_backlog_size() == 0
    hits = await store.vector_search(SearchScope("t", session_id="s"), vec(1, 1), 10)
    assert sorted(h.message.content for h in hits) == ["x", "y"]

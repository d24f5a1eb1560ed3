"""The ``EmbeddingQueue`` role: the backlog of messages without a vector, and storing vectors
(one embedding space per store)."""

from __future__ import annotations

import pytest

from memhead.errors import EmbeddingMismatch
from memhead.models import SearchScope, SessionKey
from memhead.stores import Store
from tests.contract.messages import add, vec


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

"""The ``ItemStore`` role's search: keyword hits at once (and only for the current text),
items without text never found, the embedding backlog of items and their vectors (in the
embedding space shared with messages), vector search by cosine."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from memhead.errors import EmbeddingMismatch
from memhead.models import NewMessage, SessionKey
from memhead.retrieval import query_terms
from memhead.stores import Store
from tests.contract.items import ODD_LABELS, T, embed_items, key, put, vec


@pytest.fixture(autouse=True)
async def stays_sound(store: Store) -> AsyncIterator[None]:
    yield
    assert await store.check() == []


async def search(store: Store, query: str, prefix: tuple[str, ...] = ()) -> list[str]:
    hits = await store.item_keyword_search(
        T, prefix, query_terms(query), filter=None, now=1001, limit=10
    )
    return [h.item.key for h in hits]


async def test_a_keyword_search_finds_an_item_right_after_the_put(store: Store) -> None:
    await put(store, ("m",), "sister", text="My sister lives in Zürich")
    await put(store, ("m",), "alps", text="We went hiking in the Alps")
    hits = await store.item_keyword_search(T, ("m",), ["sister"], filter=None, now=1001, limit=10)
    assert [h.item.key for h in hits] == ["sister"] and hits[0].score > 0
    assert hits[0].item.namespace == ("m",) and hits[0].item.value == {"k": "sister"}
    assert await search(store, "zurich") == ["sister"]  # accents folded
    assert await search(store, "hike") == ["alps"]  # stemmed


async def test_keyword_hits_are_best_first_by_bm25(store: Store) -> None:
    await put(store, ("m",), "once", text="pasta with sauce and cheese on a plate")
    await put(store, ("m",), "thrice", text="pasta pasta pasta")
    await put(store, ("m",), "none", text="rice")
    hits = await store.item_keyword_search(T, (), ["pasta"], filter=None, now=1001, limit=10)
    assert [h.item.key for h in hits] == ["thrice", "once"]
    assert hits[0].score > hits[1].score
    hits = await store.item_keyword_search(T, (), ["pasta"], filter=None, now=1001, limit=1)
    assert [h.item.key for h in hits] == ["thrice"]
    assert await search(store, "rice cheese") != []


async def test_a_replace_changes_what_the_keyword_search_matches(store: Store) -> None:
    await put(store, ("m",), "k", text="the cat sleeps")
    await put(store, ("m",), "k", text="the dog barks", now=2000)
    assert await search(store, "cat") == []
    assert await search(store, "dog") == ["k"]
    await put(store, ("m",), "k", now=3000)  # no text: no longer indexed at all
    assert await search(store, "dog") == []


async def test_items_without_text_are_never_found_nor_embedded(store: Store) -> None:
    await put(store, ("m",), "hidden", {"text": "needle"})
    await put(store, ("m",), "shown", {"text": "needle"}, text="needle")
    assert await search(store, "needle") == ["shown"]
    backlog = await store.item_embedding_backlog(limit=10)
    assert [p.key for p in backlog] == [key("m", k="shown")]
    assert backlog[0].text == "needle"
    assert await store.embedding_backlog_size() == 1
    await embed_items(store, {"needle": vec(1, 0)})
    hits = await store.item_vector_search(T, (), vec(1, 0), filter=None, now=1001, limit=10)
    assert [h.item.key for h in hits] == ["shown"]


@pytest.mark.parametrize(
    "term", ['"', "NEAR", "-minus", "*", "a:b", "OR", "@f:{x}", "(a|b)", "'", "%", "~x", "\\"]
)
async def test_query_syntax_in_terms_is_never_an_error(store: Store, term: str) -> None:
    await put(store, ("m",), "k", text="plain words")
    await store.item_keyword_search(T, (), [term], filter=None, now=1001, limit=10)
    await store.item_keyword_search(T, (), [], filter=None, now=1001, limit=10)


async def test_keyword_search_under_odd_prefixes(store: Store) -> None:
    for label in ODD_LABELS:
        await put(store, (label,), "k", text=f"shared {label}")
    for label in ODD_LABELS:
        hits = await store.item_keyword_search(
            T, (label,), ["shared"], filter=None, now=1001, limit=100
        )
        assert [h.item.namespace for h in hits] == [(label,)]


async def test_the_backlog_is_oldest_put_first_and_bounded(store: Store) -> None:
    assert await store.item_embedding_backlog(limit=10) == []
    await put(store, ("m",), "b", text="first", now=1000)
    await put(store, ("m",), "a", text="second", now=2000)
    await put(store, ("n",), "c", text="third", now=3000)
    backlog = await store.item_embedding_backlog(limit=2)
    assert [(p.key, p.text) for p in backlog] == [
        (key("m", k="b"), "first"),
        (key("m", k="a"), "second"),
    ]
    await store.store_item_vectors([(p, vec(1, 0)) for p in backlog], model="m")
    assert [p.text for p in await store.item_embedding_backlog(limit=10)] == ["third"]


async def test_a_vector_for_an_old_revision_or_a_deleted_item_is_skipped(store: Store) -> None:
    await put(store, ("m",), "k", text="old text")
    await put(store, ("m",), "gone", text="gone")
    old = await store.item_embedding_backlog(limit=10)
    await put(store, ("m",), "k", text="new text", now=2000)
    await store.delete_item(key("m", k="gone"))
    await store.store_item_vectors([(p, vec(1, 0)) for p in old], model="m")
    assert await store.item_vector_search(T, (), vec(1, 0), filter=None, now=2001, limit=10) == []
    (pending,) = await store.item_embedding_backlog(limit=10)
    assert pending.text == "new text" and pending.revision != old[0].revision
    await store.store_item_vectors([(pending, vec(0, 1))], model="m")
    await store.store_item_vectors([(pending, vec(1, 0))], model="m")  # late: first one kept
    hits = await store.item_vector_search(T, (), vec(0, 1), filter=None, now=2001, limit=10)
    assert [h.item.key for h in hits] == ["k"] and hits[0].score == pytest.approx(1.0, abs=0.01)
    await put(store, ("m",), "k", text="newer text", now=3000)  # a replace drops the vector
    assert await store.item_vector_search(T, (), vec(0, 1), filter=None, now=3001, limit=10) == []


async def test_vector_search_is_by_cosine_best_first_within_the_prefix(store: Store) -> None:
    vectors = {"east": vec(1, 0), "north": vec(0, 1), "northeast": vec(1, 1), "west": vec(-1, 0)}
    for name in vectors:
        await put(store, ("map", name), name, text=name)
    await put(store, ("elsewhere",), "east", text="east")
    await embed_items(store, vectors)
    hits = await store.item_vector_search(T, ("map",), vec(2, 0.2), filter=None, now=1001, limit=10)
    assert [h.item.key for h in hits] == ["east", "northeast", "north", "west"]
    assert hits[0].score == pytest.approx(0.995, abs=0.01)
    assert hits[-1].score == pytest.approx(-0.995, abs=0.01)
    hits = await store.item_vector_search(T, ("map",), vec(0, 1), filter=None, now=1001, limit=2)
    assert [h.item.key for h in hits] == ["north", "northeast"]
    hits = await store.item_vector_search(
        T, ("map", "west"), vec(1, 0), filter=None, now=1001, limit=10
    )
    assert [h.item.key for h in hits] == ["west"]


async def test_items_and_messages_share_one_embedding_space(store: Store) -> None:
    assert await store.embedding_space() is None
    await put(store, ("m",), "a", text="alpha")
    await put(store, ("m",), "b", text="beta")
    await store.append(SessionKey(T, "s"), [NewMessage("user", "hello")], now=1000, window=12)
    assert await store.embedding_backlog_size() == 3
    first, second = await store.item_embedding_backlog(limit=10)
    await store.store_item_vectors([(first, vec(1, 0))], model="m")
    assert await store.embedding_space() == ("m", 4)
    assert await store.embedding_backlog_size() == 2
    with pytest.raises(EmbeddingMismatch):
        await store.store_item_vectors([(second, [1.0, 0.0])], model="m")
    with pytest.raises(EmbeddingMismatch):
        await store.store_item_vectors([(second, vec(1, 0))], model="other")
    with pytest.raises(EmbeddingMismatch):
        await store.store_item_vectors([(first, vec(1, 0)), (second, [1.0, 0.0])], model="m")
    await store.store_item_vectors([], model="m")
    (message,) = await store.embedding_backlog(limit=10)
    with pytest.raises(EmbeddingMismatch):
        await store.store_vectors([(message, [1.0, 0.0])], model="m")
    with pytest.raises(EmbeddingMismatch):
        await store.item_vector_search(T, (), [1.0, 0.0], filter=None, now=1001, limit=10)
    await store.store_vectors([(message, vec(0, 1))], model="m")
    assert await store.embedding_backlog_size() == 1


async def test_a_reset_puts_every_item_back_in_the_backlog(store: Store) -> None:
    await put(store, ("m",), "a", text="alpha", now=1000)
    await put(store, ("m",), "b", text="beta", now=2000)
    await embed_items(store, {"alpha": vec(1, 0), "beta": vec(0, 1)})
    assert await store.embedding_backlog_size() == 0
    await store.reset_vectors(model="wide", dimensions=8)
    assert await store.embedding_space() == ("wide", 8)
    assert await store.embedding_backlog_size() == 2
    backlog = await store.item_embedding_backlog(limit=10)
    assert [p.text for p in backlog] == ["alpha", "beta"]
    wide = [1.0] + [0.0] * 7
    assert await store.item_vector_search(T, (), wide, filter=None, now=1001, limit=10) == []
    with pytest.raises(EmbeddingMismatch):
        await store.store_item_vectors([(backlog[0], vec(1, 0))], model="m")
    await store.store_item_vectors([(p, wide) for p in backlog], model="wide")
    hits = await store.item_vector_search(T, (), wide, filter=None, now=1001, limit=10)
    assert sorted(h.item.key for h in hits) == ["a", "b"]
    with pytest.raises(EmbeddingMismatch):
        await store.item_vector_search(T, (), vec(1, 0), filter=None, now=1001, limit=10)

"""What only the Redis store's memory items have: key names, and index entries that reads,
refreshes and same-text puts leave alone (RediSearch re-indexes any hash written, and counts
the stale copy in BM25 until its garbage collector runs). A put that keeps the text but
changes a scalar field rewrites the keyword entry: its filter tokens (``item_filters``)
changed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from memhead.models import ItemKey, NewItem
from memhead.stores.redis import RedisStore
from memhead.stores.redis.keyspace import Keys
from tests.redis_server import delete_prefix

LABELS = ["a:b", "}", "{x}", "with space", "ünï/cødé 🎸", "100%", "*?[glob]\\", "a%3Ab"]


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    prefix = f"memhead-test-{uuid.uuid4().hex}"
    s = RedisStore.from_url(redis_url, prefix=prefix)
    await s.setup()
    yield s
    await s.close()
    delete_prefix(redis_url, prefix)


def test_item_keys_name_the_item_exactly_and_share_one_hash_tag() -> None:
    keys = Keys("p")
    seen = set()
    for label in LABELS:
        for k in LABELS:
            key = ItemKey(label, (label, "x", label), k)
            names = keys.item_set(key)
            assert {keys.item_of(n) for n in names} == {key}
            assert len({n[n.index("{") : n.index("}") + 1] for n in names}) == 1
            seen.add(names[0])
    assert len(seen) == len(LABELS) ** 2


async def test_reads_refreshes_and_same_text_puts_never_move_keyword_scores(
    store: RedisStore,
) -> None:
    texts = {"a": "apple pie", "b": "apple apple tart", "c": "pear tart"}
    for k, text in texts.items():
        await store.put_item(ItemKey("t", ("n",), k), NewItem({"v": 1}, text, 60_000), now=1000)

    async def scores() -> dict[str, float]:
        hits = await store.item_keyword_search(
            "t", (), ["apple", "tart"], filter=None, now=1001, limit=10
        )
        return {h.item.key: h.score for h in hits}

    before = await scores()
    assert set(before) == {"a", "b", "c"}
    for now in range(1001, 1021):
        await store.get_item(ItemKey("t", ("n",), "a"), now=now, refresh=True)
        await store.refresh_items([ItemKey("t", ("n",), k) for k in texts], now=now)
    same_scalars = {"v": 1, "more": [2, {"x": 3}]}
    await store.put_item(ItemKey("t", ("n",), "b"), NewItem(same_scalars, texts["b"]), now=2000)
    assert await scores() == before


async def test_a_small_scope_of_a_large_index_finds_its_nearest(store: RedisStore) -> None:
    """The nearest of the whole index are all out of scope: the scoped query finds them."""
    for i in range(80):
        await store.put_item(ItemKey("t", ("big",), f"b{i}"), NewItem({}, "near"), now=1000)
    for i in range(3):
        await store.put_item(ItemKey("t", ("small",), f"s{i}"), NewItem({}, f"far {i}"), now=1000)
    vectors = {"near": [1.0, 0.0], "far 0": [0.0, 1.0], "far 1": [0.6, 0.8], "far 2": [-1, 0]}
    backlog = await store.item_embedding_backlog(limit=100)
    await store.store_item_vectors([(p, vectors[p.text]) for p in backlog], model="m")
    hits = await store.item_vector_search(
        "t", ("small",), [1.0, 0.0], filter=None, now=1001, limit=2
    )
    assert [h.item.key for h in hits] == ["s1", "s0"]
    assert [round(h.score, 3) for h in hits] == [0.6, 0.0]
    wide = await store.item_vector_search("t", (), [1.0, 0.0], filter=None, now=1001, limit=3)
    assert [round(h.score, 3) for h in wide] == [1.0, 1.0, 1.0]

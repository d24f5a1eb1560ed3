"""Equality filters pushed down into the Redis Query Engine (``item_filters``) and listings
read from the order sets: every search finds exactly the items ``filters.matches`` selects,
pushed or not, whatever the types (``1``, ``1.0``, ``true``, ``"1"``), and a store written
before filter tokens and order sets existed gets them when opened by this version."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from memhead.items.filters import matches
from memhead.models import ItemKey, JSONObject, NewItem
from memhead.stores.redis import RedisStore
from memhead.stores.redis.item_filters import admits, pushed_tokens, value_tokens
from memhead.stores.redis.keyspace import Keys
from tests.redis_server import delete_prefix

VALUES: dict[str, JSONObject] = {
    "int": {"n": 1, "s": "a"},
    "float": {"n": 1.0},
    "true": {"n": True},
    "string": {"n": "1"},
    "string_true": {"n": "true"},
    "false": {"n": False},
    "zero": {"n": 0, "s": "b"},
    "zero_float": {"n": -0.0},
    "null": {"n": None},
    "empty": {"n": ""},
    "list": {"n": [1]},
    "object": {"n": {"$eq": 1}},
    "missing": {"m": 1},
    "long": {"n": "x" * 300},
    "long_other": {"n": "x" * 299 + "y"},
    "half": {"n": 1.5},
    "big": {"n": 2**53 + 1},
    "big_float": {"n": float(2**53)},
    "many": {**{f"f{i}": i for i in range(40)}, "n": 1},
    "syntax": {"n": "ünï 🎸", "tag|x": "{a,b} @x:[1 2]"},
}
FILTERS: list[JSONObject] = [
    *({"n": v} for v in (1, 1.0, True, "1", "true", False, 0, 0.0, None, "", 1.5, 2**53)),
    {"n": 2**53 + 1},
    {"n": [1]},
    {"n": {"$eq": 1}},
    {"n": {"$eq": "1"}},
    {"n": {"$eq": True, "$gte": 1}},
    {"n": {"$ne": 1}},
    {"n": {"$gt": 0}},
    {"n": "x" * 300},
    {"m": 1},
    {"n": 1, "s": "a"},
    {"n": 0, "s": "a"},
    {"f39": 39},
    {"f39": 39, "n": True},
    {"n": "ünï 🎸"},
    {"tag|x": "{a,b} @x:[1 2]"},
    {"nothing": None},
    {},
]
VECTOR = [1.0, 0.0]


async def _open(url: str, prefix: str) -> RedisStore:
    store = RedisStore.from_url(url, prefix=prefix)
    await store.setup()
    return store


async def _fill(store: RedisStore) -> None:
    for key, value in VALUES.items():
        await store.put_item(ItemKey("t", ("a", key[0]), key), NewItem(value, "common"), now=1)
    await store.put_item(ItemKey("other", ("a",), "int"), NewItem({"n": 1}, "common"), now=1)
    backlog = await store.item_embedding_backlog(limit=100)
    await store.store_item_vectors([(p, VECTOR) for p in backlog], model="m")


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    name = f"memhead-test-{uuid.uuid4().hex}"
    yield name
    delete_prefix(redis_url, name)


async def _found(store: RedisStore, filter: JSONObject) -> dict[str, set[str]]:
    """The keys each kind of search finds under ``("a",)`` with ``filter``."""
    args: Any = {"filter": filter, "now": 2, "limit": 100}
    listed = await store.list_items("t", ("a",), offset=0, **args)
    keyword = await store.item_keyword_search("t", ("a",), ["common"], **args)
    vector = await store.item_vector_search("t", ("a",), VECTOR, **args)
    return {
        "list": {i.key for i in listed},
        "keyword": {h.item.key for h in keyword},
        "vector": {h.item.key for h in vector},
    }


def _expected(filter: JSONObject) -> dict[str, set[str]]:
    keys = {k for k, v in VALUES.items() if matches(v, filter)}
    return {"list": keys, "keyword": keys, "vector": keys}


def test_an_item_matching_a_filter_holds_its_pushed_tokens() -> None:
    """No false negatives (the engine never drops a match), and a pure equality on a short
    scalar selects exactly the matches (the push-down does its work)."""
    for filter in FILTERS:
        pushed = pushed_tokens(filter)
        for value in VALUES.values():
            held = value_tokens(value).encode()
            if matches(value, filter):
                assert admits(pushed, held), (filter, value)
            elif (
                pushed
                and len(value) <= 32
                and all(not isinstance(c, dict | list) for c in filter.values())
            ):
                assert not admits(pushed, held), (filter, value)
    assert pushed_tokens({"n": 1}) == pushed_tokens({"n": True}) == pushed_tokens({"n": 1.0})
    assert pushed_tokens({"n": 1}) != pushed_tokens({"n": "1"})
    assert pushed_tokens({"n": "x" * 300}) == []
    assert pushed_tokens({"n": {"$gt": 1}}) == pushed_tokens({"n": [1]}) == []


async def test_pushed_and_python_filters_find_exactly_what_matches_finds(
    redis_url: str, prefix: str
) -> None:
    pushed = await _open(redis_url, prefix)
    await _fill(pushed)
    assert await pushed.check() == []
    python = await _open(redis_url, prefix)
    # Without the marker a store cannot trust every item to hold tokens: Python alone judges.
    client = aioredis.Redis.from_url(redis_url)
    await client.delete(Keys(prefix).ready("item_filters"))
    try:
        for filter in FILTERS:
            assert await _found(pushed, filter) == _expected(filter), filter
            assert await _found(python, filter) == _expected(filter), filter
    finally:
        await client.aclose()
        await pushed.close()
        await python.close()


async def test_a_put_that_changes_a_field_moves_its_tokens_everywhere(
    redis_url: str, prefix: str
) -> None:
    store = await _open(redis_url, prefix)
    try:
        await _fill(store)
        key = ItemKey("t", ("a", "i"), "int")
        await store.put_item(key, NewItem({"n": 2, "s": "a"}, "common"), now=3)
        backlog = await store.item_embedding_backlog(limit=100)
        await store.store_item_vectors([(p, VECTOR) for p in backlog], model="m")
        for filter in ({"n": 1}, {"n": 2}, {"s": "a"}):
            expected = {k for k, v in VALUES.items() if k != "int" and matches(v, filter)}
            expected |= {"int"} if matches({"n": 2, "s": "a"}, filter) else set()
            found = await _found(store, filter)
            assert found == {"list": expected, "keyword": expected, "vector": expected}
        assert await store.check() == []
    finally:
        await store.close()


OLD_SCHEMAS = {
    "iidx": (
        *("scope_tag", "TAG", "pending", "TAG", "live_until", "NUMERIC", "SORTABLE"),
        *("updated_at", "NUMERIC", "SORTABLE"),
        *("ns", "TAG", "SEPARATOR", ";", "SORTABLE", "UNF", "NOINDEX"),
        *("order", "TAG", "SEPARATOR", ";", "SORTABLE", "UNF", "NOINDEX"),
    ),
    "itidx": ("text", "TEXT", "scope_tag", "TAG"),
}


async def _as_written_before_filter_tokens(client: aioredis.Redis, keys: Keys) -> None:
    """The items, hashes and indexes as the version before filter tokens left them."""
    for index in (keys.item_index(), keys.item_text_index(), keys.item_vector_index(2)):
        await client.execute_command(  # type: ignore[no-untyped-call]
            "FT.DROPINDEX", index
        )
    await client.delete(keys.ready("item_filters"))
    async for name in client.scan_iter(match=keys.item_order_base() + "*"):
        await client.delete(name)
    for kind in ("item", "itext", "ivec"):
        async for name in client.scan_iter(match=f"{keys.prefix}:{kind}:*"):
            await client.hdel(name, "filter_tag")
    for index, prefix, schema in (
        (keys.item_index(), keys.items_index_prefix(), OLD_SCHEMAS["iidx"]),
        (keys.item_text_index(), keys.item_texts_index_prefix(), OLD_SCHEMAS["itidx"]),
    ):
        await client.execute_command(  # type: ignore[no-untyped-call]
            *("FT.CREATE", index, "ON", "HASH", "PREFIX", 1, prefix, "STOPWORDS", 0),
            *("SCHEMA", *schema),
        )
    await client.execute_command(  # type: ignore[no-untyped-call]
        *("FT.CREATE", keys.item_vector_index(2), "ON", "HASH", "PREFIX", 1),
        *(keys.item_vectors_index_prefix(), "SCHEMA", "scope_tag", "TAG"),
        *("vector", "VECTOR", "HNSW", 6, "TYPE", "FLOAT32", "DIM", 2),
        *("DISTANCE_METRIC", "COSINE"),
    )


async def test_items_stored_before_filter_tokens_get_them_when_the_store_opens(
    redis_url: str, prefix: str
) -> None:
    old = await _open(redis_url, prefix)
    await _fill(old)
    await old.close()
    client = aioredis.Redis.from_url(redis_url)
    keys = Keys(prefix)
    try:
        await _as_written_before_filter_tokens(client, keys)
        for name in (keys.item_index(), keys.item_text_index(), keys.item_vector_index(2)):
            info = await client.execute_command(  # type: ignore[no-untyped-call]
                "FT.INFO", name
            )
            assert b"filter_tag" not in str(info).encode()
        upgraded = await _open(redis_url, prefix)
        try:
            assert await client.exists(keys.ready("item_filters"))
            assert await upgraded.check() == []
            for filter in FILTERS:
                assert await _found(upgraded, filter) == _expected(filter), filter
            again = await _open(redis_url, prefix)  # a second opening finds nothing to do
            await again.close()
        finally:
            await upgraded.close()
    finally:
        await client.aclose()

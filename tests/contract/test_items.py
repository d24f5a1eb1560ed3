"""The ``ItemStore`` role: put, get, replace and delete; namespaces of any characters and
prefixes by whole labels; listing with filters and pages; tenants kept apart. (Search is in
``test_items_search``, expiry in ``test_items_ttl``.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from memhead.models import Item, ItemKey, NewItem
from memhead.stores import Store
from tests.contract.items import ODD_LABELS, T, U, key, keys, put, vec, wall_now


@pytest.fixture(autouse=True)
async def stays_sound(store: Store) -> AsyncIterator[None]:
    yield
    assert await store.check() == []


async def test_put_returns_the_item_and_get_reads_it_back(store: Store) -> None:
    value = {"text": "likes tea", "n": 1.5, "tags": ["a", "b"], "nested": {"x": None}}
    stored = await put(store, ("users", "u1"), "pref", value, now=1000)
    assert stored == Item(("users", "u1"), "pref", value, 1000, 1000)
    assert await store.get_item(key("users", "u1", k="pref"), now=1001, refresh=True) == stored
    assert await store.get_item(key("users", "u1", k="other"), now=1001, refresh=True) is None
    assert await store.get_item(key("users", k="pref"), now=1001, refresh=True) is None


async def test_a_put_replaces_keeping_created_at_and_moving_updated_at(store: Store) -> None:
    await put(store, ("n",), "k", {"v": 1}, now=1000)
    replaced = await put(store, ("n",), "k", {"w": 2}, now=5000)
    assert replaced == Item(("n",), "k", {"w": 2}, 1000, 5000)
    assert await store.get_item(key("n"), now=5001, refresh=False) == replaced
    items = await store.list_items(T, ("n",), filter=None, now=5001, offset=0, limit=10)
    assert items == [replaced]


async def test_delete_removes_the_item_and_says_whether_there_was_one(store: Store) -> None:
    await put(store, ("n",), "k", text="gone soon")
    await put(store, ("n",), "kept", text="stays")
    assert await store.delete_item(key("n")) is True
    assert await store.delete_item(key("n")) is False
    assert await store.delete_item(key("never")) is False
    assert await store.get_item(key("n"), now=1001, refresh=False) is None
    listed = await store.list_items(T, (), filter=None, now=1001, offset=0, limit=10)
    assert keys(listed) == [(("n",), "kept")]
    assert await store.item_keyword_search(T, (), ["gone"], filter=None, now=1001, limit=10) == []
    again = await put(store, ("n",), "k", {"v": 2}, now=9000)
    assert (again.created_at, again.updated_at) == (9000, 9000)  # a new item, not the old one


@pytest.mark.parametrize("label", ODD_LABELS)
async def test_any_label_and_key_round_trips_and_matches_only_itself(
    store: Store, label: str
) -> None:
    namespace = ("root", label)
    await put(store, namespace, label, {"label": label}, text=f"odd {label}")
    await put(store, ("root", label + "x"), "near", {"label": "near"})  # a longer label
    await put(store, ("root", "x" + label), "near", {"label": "near"})
    await put(store, ("root", "ab"), "plain", {"label": "plain"})
    got = await store.get_item(ItemKey(T, namespace, label), now=1001, refresh=True)
    assert got is not None and got.value == {"label": label} and got.namespace == namespace
    listed = await store.list_items(T, namespace, filter=None, now=1001, offset=0, limit=10)
    assert keys(listed) == [(namespace, label)]
    assert await store.item_namespaces(T, namespace, now=1001) == [namespace]
    hits = await store.item_keyword_search(T, namespace, ["odd"], filter=None, now=1001, limit=10)
    assert [h.item.key for h in hits] == [label]
    assert await store.delete_item(ItemKey(T, namespace, label)) is True
    assert await store.list_items(T, namespace, filter=None, now=1001, offset=0, limit=10) == []


async def test_prefixes_hold_whole_labels_and_the_empty_prefix_holds_the_tenant(
    store: Store,
) -> None:
    for namespace in [("a",), ("a", "b"), ("a", "b", "c"), ("ab",), ("a b",), ("b", "a")]:
        await put(store, namespace, "k", text="word")
    under_a = [("a",), ("a", "b"), ("a", "b", "c")]
    listed = await store.list_items(T, ("a",), filter=None, now=1001, offset=0, limit=10)
    assert sorted(i.namespace for i in listed) == under_a
    assert await store.item_namespaces(T, ("a",), now=1001) == under_a
    assert await store.item_namespaces(T, ("a", "b"), now=1001) == [("a", "b"), ("a", "b", "c")]
    assert await store.item_namespaces(T, ("a", "b", "c", "d"), now=1001) == []
    assert await store.item_namespaces(T, ("b",), now=1001) == [("b", "a")]
    everything = [("a",), ("a", "b"), ("a", "b", "c"), ("a b",), ("ab",), ("b", "a")]
    assert await store.item_namespaces(T, (), now=1001) == everything
    hits = await store.item_keyword_search(T, ("a",), ["word"], filter=None, now=1001, limit=10)
    assert sorted(h.item.namespace for h in hits) == under_a
    hits = await store.item_keyword_search(T, (), ["word"], filter=None, now=1001, limit=10)
    assert len(hits) == 6


async def test_namespaces_are_listed_once_sorted_label_by_label(store: Store) -> None:
    for namespace, k in [(("z",), "1"), (("é",), "1"), (("a", "z"), "1"), (("a", "z"), "2")]:
        await put(store, namespace, k)
    await put(store, ("a!",), "1")
    await put(store, ("🦊",), "1")
    await put(store, ("A",), "1")
    listed = await store.item_namespaces(T, (), now=1001)
    assert listed == [("A",), ("a", "z"), ("a!",), ("z",), ("é",), ("🦊",)]


async def test_list_is_most_recently_updated_first_ties_by_namespace_then_key(
    store: Store,
) -> None:
    await put(store, ("b",), "1", now=2000)
    await put(store, ("a",), "2", now=2000)
    await put(store, ("a",), "1", now=2000)
    await put(store, ("c",), "old", now=1000)
    await put(store, ("c",), "new", now=3000)
    await put(store, ("c",), "old", {"again": True}, now=4000)  # a replace moves it up
    listed = await store.list_items(T, (), filter=None, now=5000, offset=0, limit=10)
    assert keys(listed) == [
        (("c",), "old"),
        (("c",), "new"),
        (("a",), "1"),
        (("a",), "2"),
        (("b",), "1"),
    ]
    pages = [
        keys(await store.list_items(T, (), filter=None, now=5000, offset=o, limit=2))
        for o in (0, 2, 4, 6)
    ]
    assert pages == [keys(listed)[0:2], keys(listed)[2:4], keys(listed)[4:], []]


FILTER_ITEMS: dict[str, dict[str, Any]] = {
    "one": {"n": 1, "s": "x", "flag": True, "obj": {"a": 1, "b": [1, 2]}},
    "two": {"n": 2, "s": "y", "flag": False, "obj": {"a": 1}},
    "three": {"n": 3, "s": "x"},
    "text": {"n": "3", "s": "z"},
}


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"s": "x"}, {"one", "three"}),
        ({"n": 2}, {"two"}),
        ({"n": "3"}, {"text"}),
        ({"n": {"$eq": 3}}, {"three"}),
        ({"n": {"$ne": 3}}, {"one", "two", "text"}),
        ({"n": {"$gt": 1}}, {"two", "three"}),
        ({"n": {"$gte": 2}}, {"two", "three"}),
        ({"n": {"$lt": 3}}, {"one", "two"}),
        ({"n": {"$lte": 1}}, {"one"}),
        ({"n": {"$gt": 1, "$lt": 3}}, {"two"}),
        ({"s": {"$gte": "y"}}, {"two", "text"}),
        ({"n": {"$gt": 0}, "s": "x"}, {"one", "three"}),
        ({"obj": {"a": 1, "b": [1, 2]}}, {"one"}),
        ({"obj": {"a": 1}}, {"two"}),
        ({"flag": True}, {"one"}),
        ({"flag": False}, {"two"}),
        ({"missing": 1}, set()),
        ({"missing": {"$ne": 1}}, {"one", "two", "three", "text"}),
        ({"flag": {"$ne": True}}, {"two", "three", "text"}),
        ({}, {"one", "two", "three", "text"}),
    ],
)
async def test_filters_select_by_top_level_fields(
    store: Store, flt: dict[str, Any], expected: set[str]
) -> None:
    for name, value in FILTER_ITEMS.items():
        await put(store, ("f",), name, value, text="common word")
    await store.store_item_vectors(
        [(p, vec(1, 0)) for p in await store.item_embedding_backlog(limit=10)], model="m"
    )
    listed = await store.list_items(T, ("f",), filter=flt, now=1001, offset=0, limit=10)
    assert {i.key for i in listed} == expected
    hits = await store.item_keyword_search(T, ("f",), ["word"], filter=flt, now=1001, limit=10)
    assert {h.item.key for h in hits} == expected
    hits = await store.item_vector_search(T, ("f",), vec(1, 0), filter=flt, now=1001, limit=10)
    assert {h.item.key for h in hits} == expected


async def test_filters_apply_before_the_page(store: Store) -> None:
    """Matching items are few and oldest: a page is still full of them."""
    for i in range(30):
        kind = "rare" if i < 3 else "common"
        await put(store, ("p",), f"{i:02}", {"kind": kind}, text=f"apple {kind}", now=1000 + i)
    await store.store_item_vectors(
        [(p, vec(1, 0)) for p in await store.item_embedding_backlog(limit=100)], model="m"
    )
    rare = {"kind": "rare"}
    page = await store.list_items(T, ("p",), filter=rare, now=9000, offset=1, limit=2)
    assert [i.key for i in page] == ["01", "00"]
    hits = await store.item_keyword_search(T, ("p",), ["apple"], filter=rare, now=9000, limit=3)
    assert sorted(h.item.key for h in hits) == ["00", "01", "02"]
    hits = await store.item_vector_search(T, ("p",), vec(1, 0), filter=rare, now=9000, limit=3)
    assert sorted(h.item.key for h in hits) == ["00", "01", "02"]


async def test_tenants_never_see_each_others_items(store: Store) -> None:
    base = wall_now()  # the embedding backlog judges expiry by the real clock
    hour = 3_600_000
    await put(store, ("ns",), "k", {"who": "t"}, text="secret alpha", ttl_ms=hour, now=base)
    await put(
        store, ("ns",), "k", {"who": "u"}, text="secret beta", ttl_ms=hour, now=base, tenant=U
    )
    await put(store, ("only-t",), "k", text="secret gamma", now=base, tenant=T)
    await store.store_item_vectors(
        [(p, vec(1, 0)) for p in await store.item_embedding_backlog(limit=10)], model="m"
    )
    got = await store.get_item(key("ns", tenant=U), now=base, refresh=False)
    assert got is not None and got.value == {"who": "u"}
    listed = await store.list_items(U, (), filter=None, now=base, offset=0, limit=10)
    assert [i.value for i in listed] == [{"who": "u"}]
    assert await store.item_namespaces(U, (), now=base) == [("ns",)]
    hits = await store.item_keyword_search(U, (), ["secret"], filter=None, now=base, limit=10)
    assert [h.item.value for h in hits] == [{"who": "u"}]
    hits = await store.item_vector_search(U, (), vec(1, 0), filter=None, now=base, limit=10)
    assert [h.item.value for h in hits] == [{"who": "u"}]
    await store.refresh_items([key("ns", tenant=T)], now=base + 5000)
    got = await store.get_item(key("ns", tenant=U), now=base, refresh=False)
    assert got is not None and got.expires_at == base + hour
    assert await store.delete_item(key("ns", tenant=T)) is True
    assert await store.get_item(key("ns", tenant=U), now=base, refresh=False) is not None
    assert await store.item_namespaces(T, (), now=base) == [("only-t",)]


async def test_values_round_trip_exactly(store: Store) -> None:
    value = {
        "unicode": "Zoë 🦊 \u2028",
        "big": 2**53,
        "float": 0.1,
        "neg": -1e-300,
        "list": [None, True, False, {"deep": [[]]}],
        "empty": {},
    }
    await store.put_item(key("v"), NewItem(value), now=1000)
    got = await store.get_item(key("v"), now=1001, refresh=False)
    assert got is not None and got.value == value

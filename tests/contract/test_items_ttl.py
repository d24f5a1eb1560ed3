"""The ``ItemStore`` role's expiry: an expired item is gone for every method, a get or a
refresh pushes the expiry on, and the sweep deletes expired items (with their index entries)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from memhead.models import ItemKey, NewItem
from memhead.stores import Store
from tests.contract.items import T, U, embed_items, key, put, vec, wall_now

MINUTE = 60_000


@pytest.fixture(autouse=True)
async def stays_sound(store: Store) -> AsyncIterator[None]:
    yield
    assert await store.check() == []


async def visible(store: Store, now: int) -> list[str]:
    """The keys every reading method returns at ``now`` (each must agree with the others;
    each item sits in a namespace named as its key)."""
    listed = await store.list_items(T, (), filter=None, now=now, offset=0, limit=100)
    found = await store.item_keyword_search(T, (), ["word"], filter=None, now=now, limit=100)
    near = await store.item_vector_search(T, (), vec(1, 0), filter=None, now=now, limit=100)
    spaces = await store.item_namespaces(T, (), now=now)
    got = [
        i.key
        for i in [
            await store.get_item(ItemKey(T, ns, ns[0]), now=now, refresh=False) for ns in spaces
        ]
        if i is not None
    ]
    names = sorted(i.key for i in listed)
    assert sorted(h.item.key for h in found) == names
    assert sorted(h.item.key for h in near) == names
    assert sorted(ns[0] for ns in spaces) == names
    assert sorted(got) == names
    return names


async def test_an_item_expires_for_every_method_at_its_expiry(store: Store) -> None:
    base = wall_now()  # the embedding backlog judges expiry by the real clock
    short = await put(store, ("short",), "short", text="word", ttl_ms=MINUTE, now=base)
    assert (short.expires_at, short.ttl_ms) == (base + MINUTE, MINUTE)
    await put(store, ("long",), "long", text="word", ttl_ms=5 * MINUTE, now=base)
    await put(store, ("forever",), "forever", text="word", now=base)
    await embed_items(store, {"word": vec(1, 0)})
    assert await visible(store, base + MINUTE - 1) == ["forever", "long", "short"]
    assert await visible(store, base + MINUTE) == ["forever", "long"]
    assert await visible(store, base + 5 * MINUTE) == ["forever"]
    assert await store.get_item(key("short", k="short"), now=base + MINUTE, refresh=True) is None
    # A read changes nothing:
    assert await visible(store, base + MINUTE - 1) == ["forever", "long", "short"]


async def test_a_get_with_refresh_pushes_the_expiry_on(store: Store) -> None:
    await put(store, ("n",), "k", ttl_ms=1000, now=1000)
    plain = await store.get_item(key("n"), now=1500, refresh=False)
    assert plain is not None and plain.expires_at == 2000
    refreshed = await store.get_item(key("n"), now=1500, refresh=True)
    assert refreshed is not None and (refreshed.expires_at, refreshed.ttl_ms) == (2500, 1000)
    assert refreshed.updated_at == 1000  # a refresh is not an update
    again = await store.get_item(key("n"), now=2400, refresh=False)
    assert again is not None and again.expires_at == 2500
    assert await store.get_item(key("n"), now=2500, refresh=True) is None
    assert await store.get_item(key("n"), now=1600, refresh=False) is not None  # not revived


async def test_refresh_items_pushes_on_the_live_items_with_a_ttl_only(store: Store) -> None:
    await put(store, ("n",), "a", ttl_ms=1000, now=1000)
    await put(store, ("n",), "b", ttl_ms=3000, now=1000)
    await put(store, ("n",), "forever", now=1000)
    await put(store, ("n",), "dead", ttl_ms=100, now=1000)
    await put(store, ("n",), "a", ttl_ms=1000, now=1000, tenant=U)
    wanted = [key("n", k=k) for k in ("a", "b", "forever", "dead", "unknown")]
    await store.refresh_items(wanted, now=1500)
    await store.refresh_items([], now=1500)
    listed = await store.list_items(T, ("n",), filter=None, now=1500, offset=0, limit=10)
    assert {i.key: i.expires_at for i in listed} == {"a": 2500, "b": 4500, "forever": None}
    other = await store.get_item(key("n", k="a", tenant=U), now=1500, refresh=False)
    assert other is not None and other.expires_at == 2000


async def test_a_replace_sets_the_expiry_afresh(store: Store) -> None:
    await put(store, ("n",), "k", ttl_ms=1000, now=1000)
    kept = await put(store, ("n",), "k", now=1500)
    assert (kept.expires_at, kept.ttl_ms, kept.created_at) == (None, None, 1000)
    await put(store, ("n",), "k", ttl_ms=100, now=1600)
    assert await store.get_item(key("n"), now=1700, refresh=False) is None
    reborn = await put(store, ("n",), "k", ttl_ms=100, now=1800)
    assert reborn.created_at == 1800  # an expired item is gone: this is a new one


async def test_the_sweep_deletes_expired_items_in_batches_and_keeps_the_live(
    store: Store,
) -> None:
    base = wall_now()
    for i in range(5):
        await put(store, (f"o{i}",), f"o{i}", text="word", ttl_ms=MINUTE, now=base + i)
    await put(store, ("live",), "live", text="word", ttl_ms=60 * MINUTE, now=base)
    await put(store, ("forever",), "forever", text="word", now=base)
    await put(store, ("o9",), "o9", text="word", ttl_ms=MINUTE, now=base, tenant=U)
    await embed_items(store, {"word": vec(1, 0)})
    later = base + 2 * MINUTE
    assert await store.sweep_expired_items(now=later, limit=4) == 4
    assert await store.check() == []
    assert await store.sweep_expired_items(now=later, limit=4) == 2
    assert await store.sweep_expired_items(now=later, limit=4) == 0
    assert await visible(store, base) == ["forever", "live"]  # swept: gone even back in time
    await store.reset_vectors(model="m", dimensions=4)
    backlog = await store.item_embedding_backlog(limit=10)
    assert sorted(p.key.key for p in backlog) == ["forever", "live"]


async def test_expired_items_leave_the_backlog_and_a_delete_finds_none(
    store: Store,
) -> None:
    """The methods without a ``now`` judge expiry by the real clock."""
    past = wall_now() - 120_000
    await put(store, ("n",), "expired", text="word", ttl_ms=60_000, now=past)
    await put(store, ("n",), "live", text="word", ttl_ms=600_000, now=past)
    backlog = await store.item_embedding_backlog(limit=10)
    assert [p.key.key for p in backlog] == ["live"]
    assert await store.embedding_backlog_size() == 1
    assert await store.delete_item(key("n", k="expired")) is False
    assert await store.delete_item(key("n", k="live")) is True
    assert await store.embedding_backlog_size() == 0


async def test_an_import_put_keeps_the_given_created_at_and_expiry(store: Store) -> None:
    where = ItemKey(T, ("n",), "imported")
    new = NewItem({"text": "kept word"}, "kept word", ttl_ms=MINUTE)
    stored = await store.put_item(where, new, now=5000, created_at=1000, expires_at=9000)
    assert (stored.created_at, stored.updated_at, stored.expires_at) == (1000, 5000, 9000)
    assert await store.get_item(where, now=6000, refresh=False) == stored
    hits = await store.item_keyword_search(T, (), ["kept"], filter=None, now=8999, limit=10)
    assert [h.item for h in hits] == [stored]
    assert await store.get_item(where, now=9000, refresh=False) is None  # its own expiry
    again = await store.put_item(where, new, now=5000, created_at=1000, expires_at=9000)
    assert again == stored  # putting the same import twice changes nothing
    plain = await store.put_item(ItemKey(T, ("n",), "p"), NewItem({}), now=7000, created_at=3)
    assert (plain.created_at, plain.updated_at, plain.expires_at) == (3, 7000, None)

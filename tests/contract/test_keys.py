"""The ``KeyStore`` role: API key records stored by the SHA-256 of the key, looked up on every
request, revoked at once."""

from __future__ import annotations

import asyncio

from memhead.auth import create_key, hash_key
from memhead.models import ApiKey
from memhead.stores import Store


def record(key_id: str, tenant: str = "acme", created_at: int = 1000) -> ApiKey:
    return ApiKey(key_id, tenant, f"name of {key_id}", created_at)


async def test_a_live_key_names_its_tenant_and_nothing_else_does(store: Store) -> None:
    await store.create_key(record("k1", "acme"), key_hash="h1")
    await store.create_key(record("k2", "globex"), key_hash="h2")
    assert await store.tenant_for_key("h1") == "acme"
    assert await store.tenant_for_key("h2") == "globex"
    assert await store.tenant_for_key("h3") is None
    assert await store.tenant_for_key("k1") is None  # the id is not the key


async def test_keys_are_listed_oldest_first_with_their_records(store: Store) -> None:
    assert await store.list_keys() == []
    await store.create_key(record("b", created_at=2000), key_hash="hb")
    await store.create_key(record("c", created_at=1000), key_hash="hc")
    await store.create_key(record("a", created_at=2000), key_hash="ha")
    assert await store.list_keys() == [
        record("c", created_at=1000),
        record("a", created_at=2000),
        record("b", created_at=2000),
    ]


async def test_revoking_takes_effect_at_once_and_counts_once(store: Store) -> None:
    await store.create_key(record("k1"), key_hash="h1")
    await store.create_key(record("k2"), key_hash="h2")
    assert await store.revoke_key("k1", now=5000)
    assert await store.tenant_for_key("h1") is None
    assert await store.tenant_for_key("h2") == "acme"  # the other key is untouched
    assert not await store.revoke_key("k1", now=6000)
    assert not await store.revoke_key("unknown", now=6000)
    listed = {k.id: k.revoked_at for k in await store.list_keys()}
    assert listed == {"k1": 5000, "k2": None}


async def test_concurrent_revocations_of_one_key_count_once(store: Store) -> None:
    await store.create_key(record("k"), key_hash="h")
    results = await asyncio.gather(*(store.revoke_key("k", now=n) for n in range(10)))
    assert results.count(True) == 1
    assert await store.tenant_for_key("h") is None


async def test_a_created_key_is_found_by_its_hash_and_never_stored(store: Store) -> None:
    created, key = await create_key(store, "acme", "prod")
    assert await store.tenant_for_key(hash_key(key)) == "acme"
    assert await store.tenant_for_key(key) is None
    assert await store.list_keys() == [created]
    assert key.startswith("mh_") and created.id in key

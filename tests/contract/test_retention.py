"""The ``Retention`` role: which sessions are past their TTL, deleting them with everything
of them (and only while still expired), and the store-wide job lease."""

from __future__ import annotations

from memhead.models import NewMessage, SessionKey, SessionPatch
from memhead.stores import Store
from tests.contract.messages import W, add, embed_all, vec

DAY = 86_400_000


async def test_sessions_expire_by_the_default_ttl_after_their_last_write(store: Store) -> None:
    old, fresh = SessionKey("t", "old"), SessionKey("u", "fresh")
    await add(store, old, "a", at=1_000)
    await add(store, fresh, "b", at=1_000)
    await add(store, fresh, "c", at=5_000)  # written again later
    assert await store.expired_sessions(now=3_000, default_ttl_ms=None, limit=10) == []
    assert await store.expired_sessions(now=3_000, default_ttl_ms=2_000, limit=10) == [old]
    assert await store.expired_sessions(now=8_000, default_ttl_ms=2_000, limit=10) == [old, fresh]
    assert await store.expired_sessions(now=8_000, default_ttl_ms=2_000, limit=1) == [old]


async def test_a_session_own_ttl_wins_over_the_default(store: Store) -> None:
    short, never, default = (SessionKey("t", n) for n in ("short", "never", "default"))
    await store.put_session(short, SessionPatch(ttl_ms=500), now=1_000)
    await store.put_session(never, SessionPatch(ttl_ms=0), now=1_000)
    await store.put_session(default, SessionPatch(user_id="u"), now=1_000)
    assert (await store.get_session(short)).ttl_ms == 500  # type: ignore[union-attr]
    assert await store.expired_sessions(now=1_600, default_ttl_ms=None, limit=10) == [short]
    assert await store.expired_sessions(now=10 * DAY, default_ttl_ms=DAY, limit=10) == [
        short,
        default,
    ]
    await store.put_session(never, SessionPatch(ttl_ms=-1), now=2_000)  # back to the default
    assert (await store.get_session(never)).ttl_ms is None  # type: ignore[union-attr]
    assert never in await store.expired_sessions(now=10 * DAY, default_ttl_ms=DAY, limit=10)


async def test_expiring_deletes_everything_of_the_session(store: Store) -> None:
    key, other = SessionKey("t", "gone"), SessionKey("t", "stays")
    await store.put_session(key, SessionPatch(user_id="u"), now=1_000)
    await store.append(
        key, [NewMessage("user", f"apple {i}") for i in range(W + 3)], now=1_000, window=W
    )
    await add(store, other, "apple pie", at=50_000)
    await embed_all(store, {**{f"apple {i}": vec(1) for i in range(W + 3)}, "apple pie": vec(1)})
    await store.acquire_lease(key, owner="w", now=1_000, ttl_ms=60_000)
    assert await store.expire_session(key, now=20_000, default_ttl_ms=10_000)
    assert await store.get_session(key) is None
    assert await store.history(key, before_seq=None, limit=100) == []
    assert await store.due_sessions(now=10**12, limit=10) == []
    listed = await store.list_sessions("t", user_id="u", before=None, limit=10)
    assert listed == []
    assert [s.id for s in await store.list_sessions("t", user_id=None, before=None, limit=10)] == [
        "stays"
    ]
    assert await store.list_namespace("t", "", offset=0, limit=10) == ["stays"]
    assert await store.expired_sessions(now=20_000, default_ttl_ms=10_000, limit=10) == []
    assert not await store.expire_session(key, now=20_000, default_ttl_ms=10_000)
    assert await store.check() == []


async def test_a_write_after_listing_keeps_the_session(store: Store) -> None:
    key = SessionKey("t", "busy")
    await add(store, key, "a", at=1_000)
    assert await store.expired_sessions(now=5_000, default_ttl_ms=2_000, limit=10) == [key]
    await add(store, key, "b", at=4_500)  # written meanwhile
    assert not await store.expire_session(key, now=5_000, default_ttl_ms=2_000)
    assert not await store.expire_session(key, now=5_000, default_ttl_ms=None)
    assert (await store.get_session(key)).last_seq == 2  # type: ignore[union-attr]
    assert await store.check() == []


async def test_a_reading_does_not_keep_a_session(store: Store) -> None:
    key = SessionKey("t", "read")
    await add(store, key, "a", at=1_000)
    await store.memory(key, W)
    await store.history(key, before_seq=None, limit=10)
    assert await store.expire_session(key, now=5_000, default_ttl_ms=2_000)


async def test_one_job_owner_at_a_time_until_the_lease_ends(store: Store) -> None:
    assert await store.acquire_job("sweep", owner="a", now=1_000, ttl_ms=5_000)
    assert not await store.acquire_job("sweep", owner="b", now=2_000, ttl_ms=5_000)
    assert await store.acquire_job("other", owner="b", now=2_000, ttl_ms=5_000)
    assert await store.acquire_job("sweep", owner="a", now=3_000, ttl_ms=5_000)  # extends
    assert not await store.acquire_job("sweep", owner="b", now=7_000, ttl_ms=5_000)
    assert await store.acquire_job("sweep", owner="b", now=8_000, ttl_ms=5_000)  # expired
    await store.release_job("sweep", owner="a")  # not a's any more: nothing happens
    assert not await store.acquire_job("sweep", owner="c", now=9_000, ttl_ms=5_000)
    await store.release_job("sweep", owner="b")
    assert await store.acquire_job("sweep", owner="c", now=9_000, ttl_ms=5_000)

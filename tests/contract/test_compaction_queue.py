"""The ``CompactionQueue`` role: due work, leases and the compare-and-set summary commit."""

from __future__ import annotations

from memhead.models import NewMessage, SessionKey
from memhead.stores import Store

KEY = SessionKey("t", "s")
W = 4


def many(n: int) -> list[NewMessage]:
    return [NewMessage("user", f"m{i}") for i in range(n)]


async def test_session_becomes_due_only_past_the_window(store: Store) -> None:
    await store.append(KEY, many(W), now=10, window=W)
    assert await store.due_sessions(now=100, limit=10) == []
    await store.append(KEY, many(1), now=20, window=W)
    assert await store.due_sessions(now=100, limit=10) == [KEY]
    assert await store.due_sessions(now=5, limit=10) == []


async def test_lease_is_exclusive_until_it_expires(store: Store) -> None:
    await store.append(KEY, many(W + 1), now=10, window=W)
    assert await store.acquire_lease(KEY, owner="a", now=100, ttl_ms=50)
    assert not await store.acquire_lease(KEY, owner="b", now=120, ttl_ms=50)
    assert await store.due_sessions(now=120, limit=10) == []  # leased work is not offered
    assert await store.acquire_lease(KEY, owner="a", now=120, ttl_ms=50)  # owner extends
    assert await store.acquire_lease(KEY, owner="b", now=171, ttl_ms=50)  # expired: taken over
    await store.release_lease(KEY, owner="a")  # not the holder: no effect
    assert not await store.acquire_lease(KEY, owner="c", now=180, ttl_ms=50)
    await store.release_lease(KEY, owner="b")
    assert await store.acquire_lease(KEY, owner="c", now=180, ttl_ms=50)


async def test_lease_on_missing_session_fails(store: Store) -> None:
    assert not await store.acquire_lease(SessionKey("t", "nope"), owner="a", now=1, ttl_ms=10)


async def test_commit_lands_and_clears_due_when_caught_up(store: Store) -> None:
    await store.append(KEY, many(W + 2), now=10, window=W)
    s = await store.get_session(KEY)
    assert s is not None
    ok = await store.commit_summary(
        KEY,
        incarnation=s.incarnation,
        expected_version=s.summary_version,
        summary="sum",
        upto_seq=4,
        tokens=70,
        now=50,
        window=W,
    )
    assert ok
    after = await store.get_session(KEY)
    assert after is not None
    assert (after.summary, after.upto_seq, after.tokens) == ("sum", 4, 70)
    assert after.summary_version == s.summary_version + 1
    assert after.last_compacted_at == 50
    assert await store.due_sessions(now=100, limit=10) == []
    assert [m.seq for m in (await store.memory(KEY, W)).window] == [6, 5]


async def test_commit_keeps_session_due_when_still_over_window(store: Store) -> None:
    await store.append(KEY, many(3 * W), now=10, window=W)
    s = await store.get_session(KEY)
    assert s is not None
    assert await store.commit_summary(
        KEY,
        incarnation=s.incarnation,
        expected_version=s.summary_version,
        summary="part",
        upto_seq=2,
        tokens=1,
        now=50,
        window=W,
    )
    assert await store.due_sessions(now=100, limit=10) == [KEY]


async def test_commit_is_a_no_op_after_context_write(store: Store) -> None:
    await store.append(KEY, many(W + 1), now=10, window=W)
    s = await store.get_session(KEY)
    assert s is not None
    await store.append(KEY, many(1), now=20, window=W, context="client wins")
    assert not await store.commit_summary(
        KEY,
        incarnation=s.incarnation,
        expected_version=s.summary_version,
        summary="stale",
        upto_seq=3,
        tokens=99,
        now=30,
        window=W,
    )
    after = await store.get_session(KEY)
    assert after is not None
    assert (after.summary, after.upto_seq, after.tokens) == ("client wins", 0, 0)


async def test_commit_survives_concurrent_append(store: Store) -> None:
    await store.append(KEY, many(W + 1), now=10, window=W)
    s = await store.get_session(KEY)
    assert s is not None
    await store.append(KEY, many(3), now=20, window=W)
    assert await store.commit_summary(
        KEY,
        incarnation=s.incarnation,
        expected_version=s.summary_version,
        summary="sum",
        upto_seq=3,
        tokens=5,
        now=30,
        window=W,
    )
    memory = await store.memory(KEY, 100)
    assert [m.seq for m in memory.window] == [8, 7, 6, 5, 4]


async def test_commit_is_a_no_op_after_delete_and_recreate(store: Store) -> None:
    await store.append(KEY, many(W + 1), now=10, window=W)
    s = await store.get_session(KEY)
    assert s is not None
    await store.delete_session(KEY)
    assert not await store.commit_summary(
        KEY,
        incarnation=s.incarnation,
        expected_version=s.summary_version,
        summary="ghost",
        upto_seq=3,
        tokens=5,
        now=30,
        window=W,
    )
    assert await store.get_session(KEY) is None
    await store.append(KEY, many(W + 1), now=40, window=W)
    assert not await store.commit_summary(
        KEY,
        incarnation=s.incarnation,
        expected_version=0,
        summary="ghost",
        upto_seq=3,
        tokens=5,
        now=50,
        window=W,
    )
    fresh = await store.get_session(KEY)
    assert fresh is not None and fresh.summary is None and fresh.tokens == 0


async def test_failure_is_recorded_and_defers_the_session(store: Store) -> None:
    await store.append(KEY, many(W + 1), now=10, window=W)
    s = await store.get_session(KEY)
    assert s is not None
    await store.record_failure(KEY, incarnation=s.incarnation, error="429 slow down", retry_at=500)
    await store.record_failure(KEY, incarnation=s.incarnation, error="500 boom", retry_at=900)
    failed = await store.get_session(KEY)
    assert failed is not None
    assert (failed.last_error, failed.attempts, failed.next_attempt_at) == ("500 boom", 2, 900)
    assert await store.due_sessions(now=899, limit=10) == []
    await store.append(KEY, many(1), now=20, window=W)  # a POST does not cut the backoff short
    assert await store.due_sessions(now=899, limit=10) == []
    assert await store.due_sessions(now=900, limit=10) == [KEY]
    assert await store.commit_summary(
        KEY,
        incarnation=s.incarnation,
        expected_version=s.summary_version,
        summary="ok",
        upto_seq=4,
        tokens=1,
        now=950,
        window=W,
    )
    healed = await store.get_session(KEY)
    assert healed is not None
    assert (healed.last_error, healed.attempts, healed.next_attempt_at) == (None, 0, None)

"""The invariant check (``memhead check``) is clean on a sound store, whatever was done."""

from __future__ import annotations

from memhead.models import NewMessage, SessionKey, SessionPatch
from memhead.stores import Store


async def test_a_used_store_is_sound(store: Store) -> None:
    assert await store.check() == []
    key = SessionKey("t", "a-b:c d")
    await store.append(key, [NewMessage("user", f"m{i}") for i in range(20)], now=1, window=4)
    await store.put_session(SessionKey("t", "other"), SessionPatch(user_id="u"), now=2)
    s = await store.get_session(key)
    assert s is not None
    await store.commit_summary(
        key,
        incarnation=s.incarnation,
        expected_version=s.summary_version,
        summary="sum",
        upto_seq=10,
        tokens=1,
        now=3,
        window=4,
    )
    backlog = await store.embedding_backlog(limit=5)
    await store.store_vectors([(p, [1.0, 0.0]) for p in backlog], model="m")
    gone = SessionKey("t", "gone")
    await store.append(gone, [NewMessage("user", "x")], now=4, window=4)
    await store.delete_session(gone)
    assert await store.check() == []

"""A user-scope search follows a session's user: after ``put_session`` changes it, the old
user no longer finds the session's messages and the new one does, by keyword and by vector,
old messages and new ones alike."""

from __future__ import annotations

from memhead.models import NewMessage, SearchScope, SessionKey, SessionPatch
from memhead.stores import Store
from tests.contract.messages import W, add, embed_all, vec


async def _sessions_found(store: Store, user: str, term: str, vector: list[float]) -> list[str]:
    scope = SearchScope("t", user_id=user)
    by_keyword = await store.keyword_search(scope, [term], 50)
    by_vector = await store.vector_search(scope, vector, 50)
    found = sorted(f"{h.session_id}:{h.message.seq}" for h in by_keyword)
    assert found == sorted(f"{h.session_id}:{h.message.seq}" for h in by_vector)
    return found


async def test_user_scope_follows_a_change_of_the_sessions_user(store: Store) -> None:
    for sid, user in [("a", "u1"), ("b", "u2")]:
        await store.put_session(SessionKey("t", sid), SessionPatch(user_id=user), now=1)
        await add(store, SessionKey("t", sid), f"pizza in {sid}", f"more pizza in {sid}")
    vectors = {f"{w}pizza in {s}": vec(1, 0) for s in "ab" for w in ("", "more ")}
    await embed_all(store, vectors)
    assert await _sessions_found(store, "u1", "pizza", vec(1, 0)) == ["a:1", "a:2"]

    await store.put_session(SessionKey("t", "a"), SessionPatch(user_id="u2"), now=2)

    assert await _sessions_found(store, "u1", "pizza", vec(1, 0)) == []
    assert await _sessions_found(store, "u2", "pizza", vec(1, 0)) == ["a:1", "a:2", "b:1", "b:2"]
    await store.append(SessionKey("t", "a"), [NewMessage("user", "pizza later")], now=3, window=W)
    await embed_all(store, {"pizza later": vec(1, 0)})
    assert await _sessions_found(store, "u1", "pizza", vec(1, 0)) == []
    assert "a:3" in await _sessions_found(store, "u2", "pizza", vec(1, 0))


async def test_messages_stored_before_the_session_had_a_user_are_in_its_scope(
    store: Store,
) -> None:
    key = SessionKey("t", "late")
    await add(store, key, "kayak trip")
    await embed_all(store, {"kayak trip": vec(0, 1)})
    assert await _sessions_found(store, "u3", "kayak", vec(0, 1)) == []
    await store.put_session(key, SessionPatch(user_id="u3"), now=5)
    assert await _sessions_found(store, "u3", "kayak", vec(0, 1)) == ["late:1"]
    # The scope of a user and one session is both at once.
    scope = SearchScope("t", user_id="u3", session_id="late")
    assert len(await store.keyword_search(scope, ["kayak"], 10)) == 1
    scope = SearchScope("t", user_id="u4", session_id="late")
    assert await store.keyword_search(scope, ["kayak"], 10) == []


async def test_a_user_of_another_tenant_never_finds_the_messages(store: Store) -> None:
    await store.put_session(SessionKey("t", "s"), SessionPatch(user_id="same"), now=1)
    await store.put_session(SessionKey("t2", "s"), SessionPatch(user_id="same"), now=1)
    await add(store, SessionKey("t", "s"), "lantern in t")
    await add(store, SessionKey("t2", "s"), "lantern in t2")
    hits = await store.keyword_search(SearchScope("t2", user_id="same"), ["lantern"], 10)
    assert [h.message.content for h in hits] == ["lantern in t2"]

"""The ``Lifecycle`` role: setup (idempotent), ping, and the invariant check (``memhead
check``), clean on a sound store whatever was done."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from memhead.errors import BackendUnavailable
from memhead.models import ApiKey, NewMessage, SessionKey, SessionPatch
from memhead.stores import Store
from memhead.stores.redis import RedisStore
from memhead.stores.sqlite import SqliteStore
from tests.servers import free_port


@pytest.fixture(params=["sqlite-file", "redis"])
async def unreachable(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A store of each backend that can be out of reach (an in-memory database cannot):
    a file in a directory that does not exist, a Redis port nobody listens on."""
    if request.param == "redis":
        store: Store = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}", timeout_s=1)
    else:
        store = SqliteStore(str(tmp_path / "no" / "such" / "directory.db"))
    yield store
    await store.close()


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


async def test_ping_answers_while_the_store_is_up(store: Store) -> None:
    assert await store.ping() is None
    assert store.backend in ("sqlite", "redis")


async def test_setup_again_keeps_everything(store: Store) -> None:
    key = SessionKey("t", "kept")
    await store.append(key, [NewMessage("user", "still here")], now=1, window=4)
    await store.create_key(ApiKey("k", "t", "n", 1), key_hash="h")
    await store.setup()
    memory = await store.memory(key, 4)
    assert [m.content for m in memory.window] == ["still here"]
    assert await store.tenant_for_key("h") == "t"
    await store.ping()


async def test_ping_of_an_unreachable_store_is_backend_unavailable(unreachable: Store) -> None:
    with pytest.raises(BackendUnavailable):
        await unreachable.ping()

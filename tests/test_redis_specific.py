"""What only the Redis store has: key names, outages, reconnects, TLS URLs, its own setup."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
from redis.asyncio import Redis
from redis.asyncio.connection import SSLConnection

from memhead.errors import BackendUnavailable, ConfigError
from memhead.models import NewMessage, SessionKey, SessionPatch
from memhead.stores.redis import RedisStore
from memhead.stores.redis_keys import LUA_HELPERS, Keys, key_of_due_member, listing_member, q
from tests.redis_server import delete_prefix, start_redis

HOSTILE = [
    "a:b",
    "a",
    "b:c",
    "c",
    "}",
    "{x}",
    "a}{b",
    "with space",
    "ünï/cødé 🎸",
    "100%",
    "a%3Ab",
    "nul\x00byte",
    "",
    "*?[glob]\\",
]
W = 4


def hash_tag(key: str) -> str:
    """The part of a key Redis Cluster hashes: between the first '{' and the next '}'."""
    start = key.index("{")
    end = key.index("}", start + 1)
    assert end > start + 1
    return key[start + 1 : end]


def one(content: str = "hi") -> list[NewMessage]:
    return [NewMessage("user", content)]


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    name = f"memhead-test-{uuid.uuid4().hex}"
    yield name
    delete_prefix(redis_url, name)


@pytest.fixture
async def store(redis_url: str, prefix: str) -> AsyncIterator[RedisStore]:
    s = RedisStore.from_url(redis_url, prefix=prefix)
    await s.setup()
    yield s
    await s.close()


def all_keys(redis_url: str, prefix: str) -> set[str]:
    with redis.Redis.from_url(redis_url) as client:
        return {k.decode() for k in client.scan_iter(match=f"{prefix}:*", count=1000)}


# -- key names ---------------------------------------------------------------------------


def session_keys(keys: Keys, key: SessionKey) -> list[str]:
    return [keys.session(key), keys.client_ids(key), keys.message(key, 1), keys.message(key, 99)]


def test_every_key_of_a_session_has_the_same_hash_tag() -> None:
    keys = Keys("memhead")
    for tenant in HOSTILE:
        for session_id in HOSTILE:
            key = SessionKey(tenant, session_id)
            tags = {hash_tag(k) for k in session_keys(keys, key)}
            assert tags == {keys.due_member(key)}
            assert "{" not in keys.due_member(key) and "}" not in keys.due_member(key)


def test_hostile_ids_never_collide() -> None:
    keys = Keys("memhead")
    seen: dict[str, tuple[str, str]] = {}
    for tenant in HOSTILE:
        for session_id in HOSTILE:
            for name in session_keys(keys, SessionKey(tenant, session_id)):
                assert seen.setdefault(name, (tenant, session_id)) == (tenant, session_id)
    for tenant in HOSTILE:
        for other in HOSTILE:
            for name in (keys.namespace(tenant, other), keys.user(tenant, other)):
                assert seen.setdefault(name, (tenant, other)) == (tenant, other)
        assert keys.recent(tenant) not in seen
        seen[keys.recent(tenant)] = (tenant, "")
    assert keys.session(SessionKey("a:b", "c")) != keys.session(SessionKey("a", "b:c"))


def test_due_member_round_trips() -> None:
    keys = Keys("memhead")
    for tenant in HOSTILE:
        for session_id in HOSTILE:
            key = SessionKey(tenant, session_id)
            assert key_of_due_member(keys.due_member(key).encode()) == key


def test_message_keys_share_one_prefix_for_a_search_index() -> None:
    keys = Keys("p")
    key = SessionKey("t", "s")
    assert keys.message(key, 7).startswith(keys.messages_index_prefix())
    for other in (keys.session(key), keys.client_ids(key), keys.due(), keys.recent("t")):
        assert not other.startswith(keys.messages_index_prefix())


@pytest.mark.parametrize("bad", ["", "a{b", "x}", "a*", "a?b", "a[b]"])
def test_prefixes_that_would_break_tags_or_scans_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError):
        Keys(bad)


async def test_lua_helpers_build_the_same_names_as_python(redis_url: str) -> None:
    probe = LUA_HELPERS + "return {quote(ARGV[1]), member(ARGV[2], ARGV[1])}"
    async with Redis.from_url(redis_url) as client:
        for value in HOSTILE:
            got = await client.eval(probe, 0, value, "1234")
            assert got == [q(value).encode(), listing_member(1234, value).encode()]


# -- behaviour with hostile ids ------------------------------------------------------------


async def test_hostile_ids_keep_their_data_apart(store: RedisStore) -> None:
    keys = [
        SessionKey("a:b", "c"),
        SessionKey("a", "b:c"),
        SessionKey("a", "}{"),
        SessionKey("a", ""),
    ]
    for i, key in enumerate(keys):
        await store.append(key, one(f"m{i}"), now=10 + i, window=W, namespace="n s:{x}")
        await store.put_session(key, SessionPatch(user_id="u:{1}"), now=20 + i)
    for i, key in enumerate(keys):
        assert [m.content for m in (await store.memory(key, W)).window] == [f"m{i}"]
    listed = await store.list_namespace("a", "n s:{x}", offset=0, limit=10)
    assert listed == ["b:c", "}{", ""]
    mine = await store.list_sessions("a", user_id="u:{1}", before=None, limit=10)
    assert [s.id for s in mine] == ["", "}{", "b:c"]
    assert await store.due_sessions(now=100, limit=10) == []


async def test_a_new_namespace_or_user_moves_the_listing_entry(
    store: RedisStore, redis_url: str, prefix: str
) -> None:
    key = SessionKey("t", "s")
    await store.append(key, one(), now=1, window=W, namespace="old ns")
    await store.put_session(key, SessionPatch(user_id="old user"), now=2)
    await store.append(key, one(), now=3, window=W, namespace="new ns")
    await store.put_session(key, SessionPatch(user_id="new user"), now=4)
    assert await store.list_namespace("t", "old ns", offset=0, limit=10) == []
    assert await store.list_namespace("t", "new ns", offset=0, limit=10) == ["s"]
    assert await store.list_sessions("t", user_id="old user", before=None, limit=10) == []
    [moved] = await store.list_sessions("t", user_id="new user", before=None, limit=10)
    assert (moved.id, moved.namespace, moved.updated_at) == ("s", "new ns", 4)
    assert store.keys.namespace("t", "old ns") not in all_keys(redis_url, prefix)
    assert store.keys.user("t", "old user") not in all_keys(redis_url, prefix)


async def test_delete_leaves_no_key_of_the_session_behind(
    store: RedisStore, redis_url: str, prefix: str
) -> None:
    key = SessionKey("t:1", "s {2}")
    many = [NewMessage("user", f"m{i}", client_id=f"c{i}") for i in range(1200)]
    await store.append(key, many, now=10, window=W, namespace="ns", context="ctx")
    await store.put_session(key, SessionPatch(user_id="u", metadata={"a": 1}), now=11)
    assert await store.acquire_lease(key, owner="w", now=12, ttl_ms=100)
    assert len(all_keys(redis_url, prefix)) > 1200
    assert await store.delete_session(key)
    assert all_keys(redis_url, prefix) == {store.keys.schema()}


async def test_due_sessions_skips_leased_ones_beyond_the_first_batch(store: RedisStore) -> None:
    keys = [SessionKey("t", f"s{i}") for i in range(6)]
    for i, key in enumerate(keys):
        await store.append(key, one() * (W + 1), now=10 + i, window=W)
    for key in keys[:4]:
        assert await store.acquire_lease(key, owner="w", now=50, ttl_ms=100)
    assert await store.due_sessions(now=60, limit=2) == keys[4:]
    assert await store.due_sessions(now=150, limit=3) == keys[:3]


# -- setup ---------------------------------------------------------------------------------


async def test_setup_notes_whether_the_query_engine_is_there(store: RedisStore) -> None:
    assert store.has_search is True
    with start_redis(search=False) as plain:
        bare = RedisStore.from_url(plain.url)
        await bare.setup()
        await bare.setup()
        assert bare.has_search is False
        await bare.close()


async def test_setup_refuses_keys_of_another_layout(redis_url: str, prefix: str) -> None:
    with redis.Redis.from_url(redis_url) as client:
        client.set(f"{prefix}:schema", "999")
    s = RedisStore.from_url(redis_url, prefix=prefix)
    with pytest.raises(ConfigError, match="layout"):
        await s.setup()
    await s.close()


async def test_a_decoding_client_is_refused(redis_url: str) -> None:
    client = Redis.from_url(redis_url, decode_responses=True)
    with pytest.raises(ConfigError):
        RedisStore(client)
    await client.aclose()


async def test_rediss_url_builds_a_tls_client() -> None:
    s = RedisStore.from_url("rediss://user:secret@redis.example:6380/2", prefix="p")
    assert s.client.connection_pool.connection_class is SSLConnection
    assert s.client.connection_pool.connection_kwargs["host"] == "redis.example"
    assert s.backend == "redis" and s.keys.prefix == "p"
    await s.close()


# -- outages -------------------------------------------------------------------------------


async def test_outage_fails_fast_and_the_same_store_recovers(tmp_path: Path) -> None:
    key = SessionKey("t", "s")
    with start_redis(dir=tmp_path) as server:
        s = RedisStore.from_url(server.url)
        await s.setup()
        await asyncio.gather(*(s.append(key, one(), now=i, window=W) for i in range(8)))
        server.stop()
        started = time.monotonic()
        with pytest.raises(BackendUnavailable):
            await s.append(key, one(), now=20, window=W)
        with pytest.raises(BackendUnavailable):
            await s.ping()
        assert time.monotonic() - started < 3
        server.start()  # same port, empty data, no scripts loaded
        stored = await asyncio.gather(*(s.append(key, one(), now=30, window=W) for _ in range(8)))
        assert sorted(m.seq for batch in stored for m in batch) == list(range(1, 9))
        await s.ping()
        await s.close()


async def test_a_hung_server_times_out_as_unavailable(tmp_path: Path) -> None:
    key = SessionKey("t", "s")
    with start_redis(dir=tmp_path) as server:
        s = RedisStore.from_url(server.url, timeout_s=0.5)
        await s.append(key, one(), now=1, window=W)
        server.pause()
        try:
            started = time.monotonic()
            with pytest.raises(BackendUnavailable):
                await s.memory(key, W)
            assert time.monotonic() - started < 3
        finally:
            server.resume()
        assert [m.seq for m in (await s.memory(key, W)).window] == [1]
        await s.close()


async def test_appends_survive_a_crash_with_appendonly(tmp_path: Path) -> None:
    key = SessionKey("t", "s")
    with start_redis(appendonly=True, dir=tmp_path) as server:
        s = RedisStore.from_url(server.url)
        await s.append(key, one("kept"), now=1, window=W)
        server.restart(kill=True)  # SIGKILL: no clean shutdown
        assert [m.content for m in (await s.memory(key, W)).window] == ["kept"]
        await s.close()

"""What only the Redis store has: key names, outages, reconnects, TLS URLs, its own setup,
its search indexes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
from redis.asyncio import Redis
from redis.asyncio.connection import SSLConnection

from memhead.embedding import EmbeddingWorker
from memhead.errors import BackendUnavailable, ConfigError, EmbeddingMismatch, MemheadError
from memhead.models import NewMessage, SearchScope, SessionKey, SessionPatch
from memhead.providers import build_embedder
from memhead.settings import Settings, load_settings
from memhead.stores import open_store
from memhead.stores.redis import RedisStore
from memhead.stores.redis.keyspace import (
    LUA_HELPERS,
    Keys,
    key_of_due_member,
    key_of_embed_member,
    listing_member,
    q,
)
from memhead.stores.redis.text import day, fold, match_terms, search_tag
from memhead.stores.sqlite import SqliteStore
from tests.fake_openai import FakeOpenAI
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
    drop_indexes(redis_url, Keys(name))


def drop_indexes(redis_url: str, keys: Keys) -> None:
    """Search indexes are not keys: drop the ones of the prefix (their hashes are gone)."""
    mine = {keys.search_index(), keys.item_index(), keys.item_text_index()}
    mine |= {index(d) for d in (2, 4) for index in (keys.vector_index, keys.item_vector_index)}
    with redis.Redis.from_url(redis_url) as client:
        for index in client.execute_command("FT._LIST"):
            if index.decode() in mine:
                client.execute_command("FT.DROPINDEX", index)


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
    left = {store.keys.schema(), store.keys.ready("retention"), store.keys.ready("user_tags")}
    left.add(store.keys.ready("item_filters"))
    assert all_keys(redis_url, prefix) == left


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


class ReplyDropper:
    """A TCP proxy in front of Redis that, when armed, closes the client's connection
    instead of passing on the next reply: the command has run, its caller never hears so."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.armed = False
        self.dropped = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        await asyncio.wait_for(asyncio.gather(*self._handlers), 5)  # 3.11 does not wait

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, replies: bool) -> None:
            while data := await src.read(65536):
                if replies and self.armed:
                    self.armed = False
                    self.dropped += 1
                    break
                dst.write(data)
                await dst.drain()

        _, pending = await asyncio.wait(
            [
                asyncio.create_task(pipe(reader, up_writer, replies=False)),
                asyncio.create_task(pipe(up_reader, writer, replies=True)),
            ],
            return_when=asyncio.FIRST_COMPLETED,
        )
        for other in pending:
            other.cancel()
        for stream in (writer, up_writer):
            stream.close()
            with contextlib.suppress(ConnectionError):
                await stream.wait_closed()


async def test_a_write_whose_reply_is_lost_is_not_run_twice(tmp_path: Path) -> None:
    # The append ran in Redis but the connection died before its reply came back. Sending
    # it again would store the messages twice (Motörhead's messages carry no ids to dedupe
    # them by), so the caller gets an outage (503) and the messages are stored once.
    key = SessionKey("t", "s")
    with start_redis(dir=tmp_path) as server:
        dropper = ReplyDropper(server.port)
        async with dropper as url:
            s = RedisStore.from_url(url)
            await s.setup()
            await s.append(key, one("first"), now=1, window=W)
            dropper.armed = True
            with pytest.raises(BackendUnavailable):
                await s.append(key, one("second"), now=2, window=W)
            assert dropper.dropped == 1
            window = (await s.memory(key, W)).window  # the store reconnects by itself
            assert [(m.seq, m.content) for m in window] == [(2, "second"), (1, "first")]
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
        # Once the event loop has seen the old connection closed (here it was blocked in
        # restart), the pool replaces it as it hands it out: no retry needed, no 503.
        await asyncio.sleep(0.1)
        assert [m.content for m in (await s.memory(key, W)).window] == ["kept"]
        await s.close()


# -- search --------------------------------------------------------------------------------


def vec(*xs: float) -> list[float]:
    return [*xs, *([0.0] * (4 - len(xs)))]


async def embed_all(store: RedisStore, vectors: dict[str, list[float]]) -> None:
    backlog = await store.embedding_backlog(limit=1000)
    await store.store_vectors([(p, vectors[p.message.content]) for p in backlog], model="m")


def test_search_tags_are_plain_and_distinct() -> None:
    seen: dict[str, tuple[str, ...]] = {}
    for tenant in HOSTILE:
        for parts in [(tenant,), *((tenant, other) for other in HOSTILE)]:
            tag = search_tag(*parts)
            assert tag.strip("0123456789abcdefx") == ""  # nothing to escape in a query
            assert seen.setdefault(tag, parts) == parts


def test_embed_members_round_trip_and_sort_by_seq() -> None:
    keys = Keys("memhead")
    for tenant in HOSTILE:
        for session_id in HOSTILE:
            key = SessionKey(tenant, session_id)
            for seq in (1, 99, 10**11):
                assert key_of_embed_member(keys.embed_member(key, seq).encode()) == (key, seq)
    key = SessionKey("t", "s")
    assert keys.embed_member(key, 9) < keys.embed_member(key, 10)


async def test_lua_embed_member_matches_python(redis_url: str) -> None:
    probe = LUA_HELPERS + "return embed_member(ARGV[1], tonumber(ARGV[2]))"
    keys = Keys("memhead")
    async with Redis.from_url(redis_url) as client:
        for session_id in HOSTILE:
            key = SessionKey("t", session_id)
            for seq in (1, 42, 123456789):
                got = await client.eval(probe, 0, keys.due_member(key), str(seq))
                assert got == keys.embed_member(key, seq).encode()


def test_fold_keeps_letters_and_digits_without_case_or_accents() -> None:
    assert fold("Zoë visited ZÜRICH, l'été!") == "zoe visited zurich l ete"
    assert fold("snake_case NEAR(x) -minus * 3.14 İstanbul 日本語 🎸") == (
        "snake case near x minus 3 14 istanbul 日本語"
    )
    assert match_terms(["a:b", '"', "Café", "cafe"]) == ['"a b"', "cafe"]
    assert match_terms(["*", "-", ""]) == []
    assert day(1683590400000) == "tuesday 9 may 2023"


async def test_setup_creates_the_keyword_index_and_vectors_add_the_vector_index(
    store: RedisStore, redis_url: str, prefix: str
) -> None:
    async def indexes() -> set[str]:
        listed = await store.client.execute_command("FT._LIST")  # type: ignore[no-untyped-call]
        return {i.decode() for i in listed if i.decode().startswith(prefix + ":")}

    k = store.keys
    keyword = {k.search_index(), k.item_index(), k.item_text_index()}
    assert await indexes() == keyword
    key = SessionKey("t", "s")
    await store.append(key, one("north"), now=1, window=W)
    await embed_all(store, {"north": vec(1, 0)})
    assert await indexes() == keyword | {k.vector_index(4), k.item_vector_index(4)}
    await store.close()

    delete_prefix(redis_url, prefix)  # keys wiped, indexes left: vectors of another size next
    store = RedisStore.from_url(redis_url, prefix=prefix)
    await store.setup()
    await store.append(key, one("east"), now=2, window=W)
    [pending] = await store.embedding_backlog(limit=10)
    await store.store_vectors([(pending, [0.0, 1.0])], model="small")
    hits = await store.vector_search(SearchScope("t", session_id="s"), [0.0, 1.0], 10)
    assert [h.message.content for h in hits] == ["east"]
    assert store.keys.vector_index(2) in await indexes()
    await store.close()


TRICKY = [
    "NEAR", "OR", "AND", "NOT", "inf", "-inf", "1e5", "٣", "ß", "İstanbul", "日本語", "🎸", "café",
    "\u00a0", "$param", "@text", "{tag}", "%fuzzy%", "w*", "~opt", "=>", "[KNN 3]", "a|b",
    "ismissing(@x)", "x" * 300, "\\", "'", "`", "(", ")", "snake_case", "nul\x00byte",
    "ж" * 63, "ж" * 100, "日" * 41, "日" * 100,
]  # fmt: skip


async def test_keyword_matches_are_those_of_the_sqlite_store(store: RedisStore) -> None:
    contents = [
        "Zoë visited Zürich", "zurich is not ZURICH?", "snake_case and snake case",
        "İstanbul in 日本語 text", "price: 3.14 dollars", "NEAR(x) OR -minus * star",
        "we hiked and were hiking", "café au lait", "nul\x00byte", "x" * 300, "ж" * 100,
        "日" * 100, "y" * 128,
    ]  # fmt: skip
    reference = SqliteStore(":memory:")
    await reference.setup()
    key = SessionKey("t", "a-b:c d")
    for s in (store, reference):
        await s.append(key, [NewMessage("user", c) for c in contents], now=1, window=W)
    scope = SearchScope("t", session_id="a-b:c d")
    words = {w for c in contents + TRICKY for w in c.lower().split()}
    for term in sorted(words | set(TRICKY)):
        got = {h.message.content for h in await store.keyword_search(scope, [term], 50)}
        if "\x00" in term:
            assert "nul\x00byte" in got  # (FTS5 cannot take a NUL in a query)
            continue
        want = {h.message.content for h in await reference.keyword_search(scope, [term], 50)}
        assert got == want, term
    await reference.close()


async def test_every_term_and_field_counts_and_filters_do_not(store: RedisStore) -> None:
    key = SessionKey("t", "s")
    chatter = [f"Melanie: hi Caroline, {w} day" for w in ("nice", "good", "fine", "great")] * 5
    await store.append(key, [NewMessage("user", c) for c in chatter], now=1, window=W)
    long_one = "Melanie: yesterday I took the kids to the museum, " + "it was fun and " * 20
    await store.append(key, [NewMessage("user", long_one)], now=2, window=W)
    await store.append(key, one("Caroline: which museum?"), now=3, window=W)
    scope = SearchScope("t", session_id="s", since=0, roles=("user",))
    hits = await store.keyword_search(scope, ["melanie", "museum"], 5)
    # Both terms of the long message count (not only its first match), and its length against
    # the short chatter is weighed by BM25 alone (the filters add nothing); the next message
    # matches too, through its text and its context.
    assert {h.message.content for h in hits[:2]} == {long_one, "Caroline: which museum?"}
    assert hits[1].score > 1.5 * hits[2].score > 0


async def test_storing_vectors_never_rewrites_a_message(store: RedisStore) -> None:
    key = SessionKey("t", "s")
    await store.append(key, [NewMessage("user", f"m{i}") for i in range(5)], now=1, window=W)
    before = await store.client.hgetall(store.keys.message(key, 3))
    await embed_all(store, {f"m{i}": vec(1, i) for i in range(5)})
    assert await store.client.hgetall(store.keys.message(key, 3)) == before
    info = await store.client.execute_command(  # type: ignore[no-untyped-call]
        "FT.INFO", store.keys.search_index()
    )
    stats = info if isinstance(info, dict) else dict(zip(info[::2], info[1::2], strict=True))
    assert int(stats[b"max_doc_id"]) == int(stats[b"num_docs"]) == 5  # indexed once each


async def test_hostile_ids_are_searched_apart(store: RedisStore) -> None:
    ids = ["a:b", "a", "b:c", "}{", "", "with space", "ünï/cødé 🎸", "100%", "nul\x00byte"]
    keys = [SessionKey(t, s) for t in ids[:4] for s in ids]
    for i, key in enumerate(keys):
        await store.append(key, one(f"needle number{i}"), now=1, window=W)
    vectors = {f"needle number{i}": vec(1, i) for i in range(len(keys))}
    await embed_all(store, vectors)
    for i, key in enumerate(keys):
        scope = SearchScope(key.tenant, session_id=key.session_id)
        hits = await store.keyword_search(scope, ["needle"], 100)
        assert [(h.session_id, h.message.content) for h in hits] == [
            (key.session_id, f"needle number{i}")
        ]
        hits = await store.vector_search(scope, vec(1, 0), 100)
        assert [h.message.content for h in hits] == [f"needle number{i}"]
    for tenant in ids[:4]:
        hits = await store.keyword_search(SearchScope(tenant), ["needle"], 100)
        assert sorted(h.session_id for h in hits) == sorted(ids)


async def test_user_scope_follows_the_sessions_user(store: RedisStore) -> None:
    a, b = SessionKey("t", "a"), SessionKey("t", "b")
    await store.append(a, one("pizza in a"), now=1, window=W)  # before the session has a user
    await store.put_session(a, SessionPatch(user_id="u:1"), now=2)
    await store.put_session(b, SessionPatch(user_id="u:1"), now=3)
    await store.append(b, one("pizza in b"), now=4, window=W)
    await embed_all(store, {"pizza in a": vec(1, 0), "pizza in b": vec(0, 1)})

    async def found(user: str, session_id: str | None = None) -> list[str]:
        scope = SearchScope("t", user_id=user, session_id=session_id)
        keyword = sorted(h.session_id for h in await store.keyword_search(scope, ["pizza"], 10))
        vector = sorted(h.session_id for h in await store.vector_search(scope, vec(1, 1), 10))
        assert keyword == vector
        return keyword

    assert await found("u:1") == ["a", "b"]
    assert await found("u:1", "b") == ["b"]
    await store.put_session(a, SessionPatch(user_id="u2"), now=5)
    assert await found("u:1") == ["b"]
    assert await found("u2") == ["a"]
    assert await found("u2", "b") == []
    assert await found("nobody") == []
    await store.delete_session(b)
    assert await found("u:1") == []


async def test_user_scope_with_many_sessions(store: RedisStore) -> None:
    for i in range(300):
        key = SessionKey("t", f"session-{i}")
        await store.put_session(key, SessionPatch(user_id="u"), now=i)
        await store.append(key, one(f"topic{i % 3} here"), now=i, window=W)
    hits = await store.keyword_search(SearchScope("t", user_id="u"), ["topic1"], 200)
    assert len(hits) == 100


async def test_filters_combine_in_both_searches(store: RedisStore) -> None:
    key = SessionKey("t", "s")
    msgs = [
        NewMessage("user", "tea one", created_at=1000),
        NewMessage("assistant", "tea two", created_at=2000),
        NewMessage("user", "tea three", created_at=3000),
        NewMessage("tool:x y", "tea four", created_at=3000),
    ]
    await store.append(key, msgs, now=5000, window=W)
    await embed_all(store, {m.content: vec(1, i) for i, m in enumerate(msgs)})
    scope = SearchScope("t", session_id="s", since=2000, until=3001, roles=("user", "tool:x y"))
    keyword = await store.keyword_search(scope, ["tea"], 10)
    vector = await store.vector_search(scope, vec(1, 0), 10)
    assert sorted(h.message.content for h in keyword) == ["tea four", "tea three"]
    assert [h.message.content for h in vector] == ["tea three", "tea four"]
    assert vector[0].message.role == "user" and vector[0].message.created_at == 3000


async def test_backlog_is_oldest_first_and_skips_embedded_messages(store: RedisStore) -> None:
    late, early = SessionKey("t", "late"), SessionKey("t", "early")
    await store.append(late, [NewMessage("user", f"l{i}") for i in range(12)], now=20, window=W)
    await store.append(early, one("e0"), now=10, window=W)
    backlog = await store.embedding_backlog(limit=100)
    assert [p.message.content for p in backlog] == ["e0", *(f"l{i}" for i in range(12))]
    assert {p.incarnation for p in backlog[1:]} == {(await store.get_session(late)).incarnation}  # type: ignore[union-attr]
    await store.store_vectors([(backlog[1], vec(1, 0))], model="m")
    await store.store_vectors([(backlog[1], vec(0, 1))], model="m")  # first vector stays
    rest = await store.embedding_backlog(limit=3)
    assert [p.message.content for p in rest] == ["e0", "l1", "l2"]
    hits = await store.vector_search(SearchScope("t", session_id="late"), vec(1, 0), 10)
    assert [(h.message.content, round(h.score, 3)) for h in hits] == [("l0", 1.0)]


async def test_delete_leaves_no_backlog_or_vector_behind(
    store: RedisStore, redis_url: str, prefix: str
) -> None:
    key = SessionKey("t", "s")
    await store.append(key, [NewMessage("user", f"m{i}") for i in range(600)], now=1, window=W)
    backlog = await store.embedding_backlog(limit=10)
    await store.store_vectors([(p, vec(1, 0)) for p in backlog], model="m")
    assert await store.delete_session(key)
    k = store.keys
    left = {k.schema(), k.embedding_space(), k.ready("retention"), k.ready("user_tags")}
    left.add(k.ready("item_filters"))
    assert all_keys(redis_url, prefix) == left
    assert await store.vector_search(SearchScope("t"), vec(1, 0), 10) == []


async def test_first_vectors_from_two_processes_fix_one_space(redis_url: str, prefix: str) -> None:
    one_store, other = (RedisStore.from_url(redis_url, prefix=prefix) for _ in range(2))
    await asyncio.gather(one_store.setup(), other.setup())
    await one_store.append(SessionKey("t", "s"), one("a") + one("b"), now=1, window=W)
    first, second = await one_store.embedding_backlog(limit=10)
    results = await asyncio.gather(
        one_store.store_vectors([(first, vec(1, 0))], model="m1"),
        other.store_vectors([(second, vec(0, 1))], model="m2"),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["EmbeddingMismatch", "NoneType"]
    winner = "m1" if results[0] is None else "m2"
    for s in (one_store, other):
        with pytest.raises(EmbeddingMismatch):
            await s.store_vectors([(first, vec(1, 0))], model="m1" if winner == "m2" else "m2")
        hits = await s.vector_search(SearchScope("t", session_id="s"), vec(1, 1), 10)
        assert len(hits) == 1
        await s.close()


async def test_a_resp2_client_finds_the_same(redis_url: str, prefix: str) -> None:
    resp2 = RedisStore(Redis.from_url(redis_url, protocol=2), prefix=prefix)
    await resp2.setup()
    key = SessionKey("t", "s")
    await resp2.append(key, [NewMessage("user", "hiking", client_id="c")], now=1, window=W)
    await embed_all(resp2, {"hiking": vec(1, 0)})
    [hit] = await resp2.keyword_search(SearchScope("t", session_id="s"), ["hike"], 10)
    assert (hit.session_id, hit.message.content, hit.message.client_id) == ("s", "hiking", "c")
    assert hit.score > 0
    [hit] = await resp2.vector_search(SearchScope("t", session_id="s"), vec(1, 0), 10)
    assert hit.score == pytest.approx(1.0, abs=1e-5)
    await resp2.close()


async def test_without_the_query_engine_search_is_a_clear_error(tmp_path: Path) -> None:
    key = SessionKey("t", "s")
    with start_redis(search=False, dir=tmp_path) as plain:
        s = RedisStore.from_url(plain.url)
        await s.setup()
        await s.append(key, one("still stored"), now=1, window=W)
        assert [m.content for m in (await s.memory(key, W)).window] == ["still stored"]
        scope = SearchScope("t", session_id="s")
        [hit] = await s.fetch("t", [("s", 1)])  # plain reads: no query engine needed
        assert hit.message.content == "still stored"
        for call in (
            s.keyword_search(scope, ["stored"], 10),
            s.vector_search(scope, vec(1, 0), 10),
            s.embedding_backlog(limit=10),
            s.store_vectors([], model="m"),
        ):
            with pytest.raises(MemheadError, match="Redis 8") as raised:
                await call
            assert not isinstance(raised.value, BackendUnavailable)
        assert await s.delete_session(key)
        await s.close()


async def test_a_database_other_than_0_is_refused_with_a_clear_message(
    redis_url: str, prefix: str
) -> None:
    """The query engine indexes database 0 only; anything else used to fail deep in index
    creation ('Cannot create index on db != 0')."""
    given = Redis.from_url(redis_url).connection_pool.connection_kwargs
    client = Redis(
        host=given["host"],
        port=given["port"],
        username=given.get("username"),
        password=given.get("password"),
        db=1,
    )
    store = RedisStore(client, prefix=prefix)
    try:
        with pytest.raises(ConfigError, match="database 1.*URL ending in /0"):
            await store.setup()
        await client.delete(Keys(prefix).schema())
    finally:
        await store.close()


async def test_the_prefix_setting_keeps_a_deployment_apart(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MEMHEAD_REDIS_PREFIX reaches the store: every key the deployment writes starts with it."""
    name = f"deploy{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("MEMHEAD_REDIS_PREFIX", name)
    store = open_store(redis_url, **load_settings().store_options())
    assert isinstance(store, RedisStore)
    try:
        await store.setup()
        key = SessionKey("default", f"s-{name}")
        await store.append(key, [NewMessage("user", "hello")], now=1, window=12)
        with redis.Redis.from_url(redis_url) as client:
            assert client.exists(Keys(name).session(key))
            assert not client.exists(Keys().session(key))  # nothing under the default prefix
        assert (await store.memory(key, 12)).window[0].content == "hello"
    finally:
        await store.close()
        delete_prefix(redis_url, name)
        drop_indexes(redis_url, Keys(name))


async def test_the_embedding_worker_says_once_that_search_is_missing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """On a Redis without the query engine the worker cannot find its backlog; that is
    configuration, so it is logged once and shown in the status, not on every poll."""
    with FakeOpenAI() as fake, start_redis(search=False, dir=tmp_path) as plain:
        settings = Settings(llm_base_url=fake.base_url)
        embedder = build_embedder(settings, "fake-embedding")
        assert embedder is not None
        store = RedisStore.from_url(plain.url)
        await store.setup()
        worker = EmbeddingWorker(store, embedder, poll_s=0.01)
        with caplog.at_level(logging.WARNING, logger="memhead"):
            running = asyncio.create_task(worker.run())
            await asyncio.sleep(0.3)  # about 30 polls
            await worker.stop()
            await running
        await embedder.close()
        await store.close()
    paused = [r for r in caplog.records if "embedding is paused" in r.getMessage()]
    assert len(paused) == 1 and "Redis 8" in paused[0].getMessage()
    assert worker.status.last_error is not None and "Query Engine" in worker.status.last_error
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def _attributes(client: redis.Redis, index: str) -> set[str]:
    info = client.execute_command("FT.INFO", index)
    stats = info if isinstance(info, dict) else dict(zip(info[::2], info[1::2], strict=True))
    found = set()
    for attribute in stats[b"attributes"]:
        pairs = (
            attribute
            if isinstance(attribute, dict)
            else dict(zip(attribute[::2], attribute[1::2], strict=True))
        )
        found.add(pairs[b"identifier"].decode())
    return found


def _make_pre_user_tag_state(redis_url: str, keys: Keys, key: SessionKey, last_seq: int) -> None:
    """What a memhead from before user tags left: its two message indexes without
    ``user_tag``, its hashes without it, no backfill marker."""
    old_filters = ("tenant_tag", "TAG", "session_tag", "TAG", "role_tag", "TAG")
    old_filters += ("created_at", "NUMERIC")
    with redis.Redis.from_url(redis_url) as client:
        for index in (keys.search_index(), keys.vector_index(4)):
            client.execute_command("FT.DROPINDEX", index)  # the hashes stay
        for seq in range(1, last_seq + 1):
            client.hdel(keys.message(key, seq), "user_tag")
            client.hdel(keys.vector(key, seq), "user_tag")
        client.delete(keys.ready("user_tags"))
        client.execute_command(
            *("FT.CREATE", keys.search_index(), "ON", "HASH", "PREFIX", 1),
            *(keys.messages_index_prefix(), "STOPWORDS", 0, "SCHEMA"),
            *("text", "TEXT", "context", "TEXT", "day", "TEXT", *old_filters),
        )
        client.execute_command(
            *("FT.CREATE", keys.vector_index(4), "ON", "HASH", "PREFIX", 1),
            *(keys.vectors_index_prefix(), "SCHEMA", *old_filters, "vector", "VECTOR", "HNSW"),
            *(6, "TYPE", "FLOAT32", "DIM", 4, "DISTANCE_METRIC", "COSINE"),
        )
        for index in (keys.search_index(), keys.vector_index(4)):
            assert "user_tag" not in _attributes(client, index)


async def test_an_index_made_before_user_tags_gains_them_at_setup(
    store: RedisStore, redis_url: str, prefix: str
) -> None:
    key, k = SessionKey("t", "s"), store.keys
    await store.put_session(key, SessionPatch(user_id="u"), now=1)
    otters = [NewMessage("user", f"otter {i}") for i in range(3)]
    await store.append(key, otters, now=2, window=W)
    pending = await store.embedding_backlog(limit=10)
    await store.store_vectors([(p, vec(1, p.message.seq)) for p in pending[:2]], model="m")
    await store.close()
    _make_pre_user_tag_state(redis_url, k, key, 3)

    upgraded = RedisStore.from_url(redis_url, prefix=prefix)
    await upgraded.setup()
    with redis.Redis.from_url(redis_url) as client:
        for index in (k.search_index(), k.vector_index(4)):
            assert "user_tag" in _attributes(client, index)
    await embed_all(upgraded, {"otter 2": vec(1, 3)})  # the one left in the backlog
    scope = SearchScope("t", user_id="u")
    keyword = await upgraded.keyword_search(scope, ["otter"], 10)
    vector = await upgraded.vector_search(scope, vec(1, 0), 10)
    assert (
        sorted(h.message.seq for h in keyword)
        == sorted(h.message.seq for h in vector)
        == [
            1,
            2,
            3,
        ]
    )
    assert await upgraded.keyword_search(SearchScope("t", user_id="v"), ["otter"], 10) == []
    await upgraded.close()


async def test_a_change_of_user_retags_every_message_and_vector(store: RedisStore) -> None:
    key, k = SessionKey("t", "big"), store.keys
    n = 450  # more than two retag steps
    await store.put_session(key, SessionPatch(user_id="before"), now=1)
    await store.append(key, [NewMessage("user", f"heron {i}") for i in range(n)], now=2, window=W)
    await embed_all(store, {f"heron {i}": vec(1, i) for i in range(n)})
    await store.put_session(key, SessionPatch(user_id="after"), now=3)
    want = search_tag("t", "after").encode()
    for seq in (1, 200, 201, 401, n):
        assert await store.client.hget(k.message(key, seq), "user_tag") == want
        assert await store.client.hget(k.vector(key, seq), "user_tag") == want
    hits = await store.keyword_search(SearchScope("t", user_id="after"), ["heron"], 500)
    assert len(hits) == n
    assert await store.keyword_search(SearchScope("t", user_id="before"), ["heron"], 500) == []
    assert not await store.client.exists(k.message(key, n + 1), k.vector(key, n + 1))


async def test_lua_user_tag_matches_python(redis_url: str) -> None:
    probe = LUA_HELPERS + "return {user_tag(ARGV[1], ARGV[2]), user_tag(ARGV[1], false)}"
    async with Redis.from_url(redis_url) as client:
        for tenant, user in [("t", "u"), *zip(HOSTILE, reversed(HOSTILE), strict=True)]:
            got = await client.eval(probe, 0, search_tag(tenant), user)  # type: ignore[misc]
            assert got == [search_tag(tenant, user).encode(), b""]

"""``memhead.client`` against a real ``memhead serve`` process: every call, its errors, and
retries that store nothing twice."""

from __future__ import annotations

import inspect
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

import memhead.client
from memhead.api import schemas, store_schemas
from memhead.client import (
    APIConnectionError,
    AsyncMemhead,
    AuthenticationError,
    InvalidRequestError,
    Memhead,
    NotFoundError,
    UnavailableError,
    calls,
    types,
)
from memhead.stores.sqlite import SqliteStore
from tests.servers import FlakyProxy, MemheadProcess
from tests.test_auth import keys_for

HOSTILE_IDS = ["a/b", "what?x=1#frag", "100% sure", "ünï cødé", "a//b/"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemheadProcess]:
    """One server for the module, with auth on: each test works in a tenant of its own."""
    cwd = tmp_path_factory.mktemp("client")
    env = {
        "MEMHEAD_STORE_URL": f"sqlite:///{cwd / 'client.db'}",
        "MEMHEAD_WINDOW_SIZE": "4",
        "MEMHEAD_AUTH": "required",
    }
    with MemheadProcess(env, cwd=cwd) as proc:
        yield proc.wait_ready()


def new_keys(server: MemheadProcess, *tenants: str) -> list[str]:
    db = server.log.parent / "client.db"
    suffix = uuid.uuid4().hex[:8]
    return keys_for(SqliteStore(str(db)), *(f"{t}-{suffix}" for t in tenants))


@pytest.fixture
def key(server: MemheadProcess) -> str:
    return new_keys(server, "t")[0]


@pytest.fixture
def mh(server: MemheadProcess, key: str) -> Iterator[Memhead]:
    with Memhead(server.url, api_key=key, max_retries=0) as client:
        yield client


def turns(n: int, start: int = 0) -> list[dict[str, str]]:
    return [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i}"}
        for i in range(start, start + n)
    ]


def test_sessions_are_created_read_listed_and_deleted(mh: Memhead) -> None:
    created = mh.put_session("s1", user_id="ana", metadata={"plan": "pro"})
    assert (created.id, created.user_id, created.metadata) == ("s1", "ana", {"plan": "pro"})
    assert created.created_at.tzinfo is not None and created.message_count == 0
    kept = mh.put_session("s1", metadata={"plan": "free"})
    assert (kept.user_id, kept.metadata) == ("ana", {"plan": "free"})
    mh.put_session("s2", user_id="ben")
    mh.put_session("s3", user_id="ana")

    assert [s.id for s in mh.list_sessions().sessions] == ["s3", "s2", "s1"]
    assert [s.id for s in mh.list_sessions(user_id="ana").sessions] == ["s3", "s1"]
    assert [s.id for s in mh.list_sessions(namespace="").sessions] == ["s3", "s2", "s1"]
    assert mh.list_sessions(namespace="elsewhere").sessions == []
    first = mh.list_sessions(limit=2)
    assert [s.id for s in first.sessions] == ["s3", "s2"] and first.next_cursor
    rest = mh.list_sessions(limit=2, cursor=first.next_cursor)
    assert [s.id for s in rest.sessions] == ["s1"] and rest.next_cursor is None

    assert mh.get_session("s2").user_id == "ben"
    mh.delete_session("s2")
    mh.delete_session("s2")  # deleting what is gone succeeds
    with pytest.raises(NotFoundError) as err:
        mh.get_session("s2")
    assert err.value.status_code == 404 and "not found" in err.value.message
    assert err.value.request_id


def test_a_session_ttl_is_set_kept_and_shown(mh: Memhead) -> None:
    assert mh.put_session("t1").ttl is None  # the server's default
    assert mh.put_session("t1", ttl=3600).ttl == 3600
    assert mh.put_session("t1", user_id="ana").ttl == 3600  # None keeps it
    assert mh.put_session("t1", ttl=0).ttl == 0  # never
    assert mh.get_session("t1").ttl == 0


def test_messages_memory_summary_and_history(mh: Memhead) -> None:
    stored = mh.add_messages("chat", turns(3))
    assert [m.seq for m in stored] == [1, 2, 3]
    assert all(m.id for m in stored) and len({m.id for m in stored}) == 3
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    (mine,) = mh.add_messages(
        "chat",
        [
            {
                "role": "user",
                "content": "with all",
                "id": "my-id",
                "metadata": {"k": 1},
                "created_at": when,
            }
        ],
    )
    assert (mine.seq, mine.id, mine.metadata, mine.created_at) == (4, "my-id", {"k": 1}, when)
    mh.add_messages("chat", turns(2, start=4))

    memory = mh.get_memory("chat")
    assert [m.seq for m in memory.messages] == [6, 5, 4, 3]  # the window (W=4), newest first
    assert memory.summary is None and memory.message_count == 6 and memory.unsummarized == 6
    assert [m.seq for m in mh.get_memory("chat", lastn=2).messages] == [6, 5]
    assert mh.get_memory("never-written").messages == []

    page = mh.list_messages("chat", limit=4)
    assert [m.seq for m in page.messages] == [6, 5, 4, 3] and page.next_before_seq == 3
    older = mh.list_messages("chat", before_seq=page.next_before_seq, limit=4)
    assert [m.content for m in older.messages] == ["message 1", "message 0"]
    assert older.next_before_seq is None

    status = mh.get_summary("chat")
    assert (status.summary, status.unsummarized, status.attempts, status.last_error) == (
        None,
        6,
        0,
        None,
    )
    with pytest.raises(NotFoundError):
        mh.get_summary("never-written")


def test_search_in_a_session_a_user_and_the_tenant(mh: Memhead) -> None:
    mh.put_session("a", user_id="u1")
    mh.put_session("b", user_id="u2")
    mh.add_messages("a", [{"role": "user", "content": "my cat is called Tiger"}])
    mh.add_messages("b", [{"role": "user", "content": "the cat sleeps"}])
    found = mh.search("cat")
    assert found.mode == "keyword"  # no embedder on this server
    assert {h.session_id for h in found.hits} == {"a", "b"}
    hit = mh.search("Tiger", session_id="a").hits[0]
    assert (hit.session_id, hit.seq, hit.role, hit.retrievers) == ("a", 1, "user", ["keyword"])
    assert hit.score > 0
    assert [h.session_id for h in mh.search("cat", user_id="u2").hits] == ["b"]
    assert mh.search("cat", roles=["assistant"]).hits == []
    later = datetime.now(UTC) + timedelta(hours=1)
    assert mh.search("cat", since=later).hits == []
    assert len(mh.search("cat", until=later, limit=1).hits) == 1
    with pytest.raises(InvalidRequestError, match="vector search needs an embedder"):
        mh.search("cat", mode="vector")


@pytest.mark.parametrize("session_id", HOSTILE_IDS)
def test_any_session_id_goes_and_comes_back_unchanged(mh: Memhead, session_id: str) -> None:
    mh.add_messages(session_id, [{"role": "user", "content": "hi"}])
    assert mh.get_session(session_id).id == session_id
    assert [m.content for m in mh.get_memory(session_id).messages] == ["hi"]
    assert session_id in [s.id for s in mh.list_sessions().sessions]


def test_bad_input_raises_invalid_request_with_the_servers_message(mh: Memhead) -> None:
    with pytest.raises(InvalidRequestError) as err:
        mh.add_messages("chat", [])
    assert err.value.status_code == 422 and "messages" in err.value.message
    with pytest.raises(InvalidRequestError, match="invalid cursor"):
        mh.list_sessions(cursor="not-a-cursor")
    with pytest.raises(InvalidRequestError, match="limit"):
        mh.list_messages("chat", limit=0)
    with pytest.raises(InvalidRequestError, match="session_id"):
        mh.put_session("bad\x01id")
    with pytest.raises(ValueError, match="session_id"):
        mh.get_session("")
    assert mh.list_sessions().sessions == []  # nothing was changed


def test_an_unreachable_server_is_a_connection_error() -> None:
    from tests.servers import free_port

    with Memhead(f"http://127.0.0.1:{free_port()}", max_retries=1, backoff_s=0.01) as mh:
        with pytest.raises(APIConnectionError):
            mh.list_sessions()


def test_lost_answers_are_retried_and_store_nothing_twice(server: MemheadProcess, key: str) -> None:
    with FlakyProxy(server.port) as proxy, Memhead(proxy.url, api_key=key, backoff_s=0.01) as mh:
        proxy.drop_next(2)  # the append ran twice on the server; its answer never came back
        stored = mh.add_messages("chat", turns(3))
        assert proxy.dropped == 2
        assert [m.seq for m in stored] == [1, 2, 3]
        history = mh.list_messages("chat").messages
        assert [m.seq for m in history] == [3, 2, 1]

        proxy.drop_next(3)  # more losses than retries: the caller hears of it...
        with pytest.raises(APIConnectionError):
            mh.add_messages("chat", [{"role": "user", "content": "again", "id": "x-1"}])
        # ...and sending the same message again (its id) stores it once.
        (again,) = mh.add_messages("chat", [{"role": "user", "content": "again", "id": "x-1"}])
        assert again.seq == 4 and mh.get_session("chat").message_count == 4


def test_unavailable_answers_are_retried_then_raised(server: MemheadProcess, key: str) -> None:
    with FlakyProxy(server.port) as proxy, Memhead(proxy.url, api_key=key, backoff_s=0.01) as mh:
        proxy.refuse_next(2, status=503)
        assert mh.put_session("s").id == "s"
        assert proxy.refused == 2
        proxy.refuse_next(3, status=503)
        with pytest.raises(UnavailableError) as err:
            mh.get_session("s")
        assert err.value.message == "upstream restarting" and proxy.refused == 5
        proxy.refuse_next(1, status=400)  # not worth retrying
        with pytest.raises(InvalidRequestError):
            mh.get_session("s")


async def test_the_async_client_makes_the_same_calls(server: MemheadProcess, key: str) -> None:
    async with AsyncMemhead(server.url, api_key=key) as mh:
        await mh.put_session("as", user_id="u")
        stored = await mh.add_messages("as", turns(5))
        assert [m.seq for m in stored] == [1, 2, 3, 4, 5]
        assert [m.seq for m in (await mh.get_memory("as")).messages] == [5, 4, 3, 2]
        assert [m.seq for m in (await mh.list_messages("as", limit=2)).messages] == [5, 4]
        assert (await mh.get_summary("as")).unsummarized == 5
        assert (await mh.get_session("as")).message_count == 5
        assert [s.id for s in (await mh.list_sessions(user_id="u")).sessions] == ["as"]
        assert (await mh.search("message", session_id="as")).hits
        await mh.delete_session("as")
        with pytest.raises(NotFoundError):
            await mh.get_session("as")


async def test_the_async_client_retries_lost_answers(server: MemheadProcess, key: str) -> None:
    with FlakyProxy(server.port) as proxy:
        async with AsyncMemhead(proxy.url, api_key=key, backoff_s=0.01) as mh:
            proxy.drop_next(1)
            proxy.refuse_next(1)
            await mh.add_messages("chat", turns(2))
            assert (proxy.dropped, proxy.refused) == (1, 1)
            assert (await mh.get_session("chat")).message_count == 2


def test_the_api_key_selects_the_tenant(server: MemheadProcess) -> None:
    key_a, key_b = new_keys(server, "a", "b")
    with Memhead(server.url, api_key=key_a) as a, Memhead(server.url, api_key=key_b) as b:
        a.add_messages("shared-name", [{"role": "user", "content": "secret of a"}])
        assert b.get_memory("shared-name").messages == []
        assert b.search("secret").hits == []
        assert b.list_sessions().sessions == []
        assert [m.content for m in a.get_memory("shared-name").messages] == ["secret of a"]
    # The header MCP hosts and gateways are often set up with carries the key as well.
    raw = httpx.get(f"{server.url}/api/v1/sessions", headers={"x-api-key": key_a})
    assert [s["id"] for s in raw.json()["sessions"]] == ["shared-name"]
    with Memhead(server.url) as anonymous, pytest.raises(AuthenticationError) as err:
        anonymous.list_sessions()
    assert err.value.status_code == 401 and "missing API key" in err.value.message
    with Memhead(server.url, api_key="mh_nope_nope") as wrong:
        with pytest.raises(AuthenticationError, match="invalid or revoked"):
            wrong.get_memory("shared-name")


def test_the_key_and_url_default_to_the_environment(
    server: MemheadProcess, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMHEAD_BASE_URL", server.url)
    monkeypatch.setenv("MEMHEAD_API_KEY", key)
    with Memhead() as mh:
        assert mh.base_url == server.url and mh.api_key == key
        assert mh.list_sessions().sessions == []


def test_results_carry_every_field_the_server_sends() -> None:
    pairs = [
        (types.Session, schemas.SessionOut),
        (types.Message, schemas.MessageOut),
        (types.MessagePage, schemas.MessageList),
        (types.Memory, schemas.MemoryOut),
        (types.SessionPage, schemas.SessionList),
        (types.SummaryStatus, schemas.SummaryOut),
        (types.SearchHit, schemas.SearchHit),
        (types.SearchResults, schemas.SearchResponse),
        (types.Item, store_schemas.ItemOut),
        (types.SearchItem, store_schemas.SearchItemOut),
        (calls._SearchItems, store_schemas.SearchItemsOut),
        (calls._NamespaceList, store_schemas.NamespacesOut),
    ]
    for client_type, server_type in pairs:
        assert set(client_type.model_fields) == set(server_type.model_fields), client_type
    # What the client sends is what the server reads (it refuses unknown fields).
    sent = [
        (calls.put_item(("n",), "k", {}, ["text"], 1.0).json, store_schemas.ItemPut),
        (calls.delete_item(("n",), "k").json, store_schemas.ItemRef),
        (
            calls.search_items(calls.ItemQuery(("n",), "q", {"a": 1}, 5, 1, True)).json,
            store_schemas.ItemSearch,
        ),
        (
            calls.list_namespaces(calls.NamespaceQuery(["a"], ["b"], 2, 5, 1)).json,
            store_schemas.NamespaceQuery,
        ),
    ]
    for body, server_type in sent:
        assert set(body) == set(server_type.model_fields), server_type
    assert set(types.MessageParam.__annotations__) == set(schemas.MessageIn.model_fields)


def test_the_async_client_mirrors_the_sync_one() -> None:
    def calls(cls: type) -> dict[str, inspect.Signature]:
        return {
            name: inspect.signature(fn)
            for name, fn in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_") and name not in {"close", "aclose"}
        }

    sync, aio = calls(Memhead), calls(AsyncMemhead)
    assert sync.keys() == aio.keys() and len(sync) == 14
    for name, signature in sync.items():
        assert str(signature) == str(aio[name]), name
        assert inspect.iscoroutinefunction(getattr(AsyncMemhead, name)), name


def test_the_public_surface_is_all_exported() -> None:
    exported = set(memhead.client.__all__)
    assert {"Memhead", "AsyncMemhead", "APIError", "NotFoundError", "Memory"} <= exported
    assert all(hasattr(memhead.client, name) for name in exported)
    for module in (memhead.client.types, memhead.client.errors):
        public = {
            n
            for n, v in vars(module).items()
            if isinstance(v, type) and v.__module__ == module.__name__ and not n.startswith("_")
        }
        assert public <= exported, public - exported


def test_the_client_imports_nothing_of_the_server() -> None:
    code = (
        "import sys, memhead.client, memhead.integrations.langchain\n"
        "mine = ('memhead.client', 'memhead.integrations')\n"
        "server = ('fastapi', 'starlette', 'uvicorn', 'redis', 'openai', 'mcp', 'memhead')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in server\n"
        "             and m != 'memhead' and not m.startswith(mine)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_negative_retry_count_is_refused() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        Memhead("http://127.0.0.1:1", max_retries=-1)


# -- memory items (/store) --------------------------------------------------------------------


def test_items_are_put_read_replaced_and_deleted(mh: Memhead) -> None:
    mh.put_item(("users", "ana"), "city", {"text": "Ana lives in Lyon", "since": 2021})
    item = mh.get_item(("users", "ana"), "city")
    assert item is not None
    assert (item.namespace, item.key) == (("users", "ana"), "city")
    assert item.value == {"text": "Ana lives in Lyon", "since": 2021}
    assert item.created_at.tzinfo is not None and item.created_at == item.updated_at
    assert item.expires_at is None

    mh.put_item(["users", "ana"], "city", {"text": "Ana moved to Porto"})
    replaced = mh.get_item(("users", "ana"), "city")
    assert replaced is not None and replaced.value == {"text": "Ana moved to Porto"}
    assert replaced.created_at == item.created_at and replaced.updated_at >= item.updated_at

    mh.put_item("notes", "n1", {"text": "a one-label namespace"})  # a string is one label
    assert mh.list_namespaces() == [("notes",), ("users", "ana")]

    assert mh.get_item(("users", "ana"), "nothing-here") is None
    mh.delete_item(("users", "ana"), "city")
    mh.delete_item(("users", "ana"), "city")  # deleting what is gone succeeds
    assert mh.get_item(("users", "ana"), "city") is None


def test_items_are_searched_by_query_and_filter_a_page_at_a_time(mh: Memhead) -> None:
    mh.put_item(("mem", "a"), "1", {"text": "the cat sleeps on the sofa", "n": 1})
    mh.put_item(("mem", "a"), "2", {"text": "a dog and a cat", "n": 2})
    mh.put_item(("mem", "b"), "3", {"text": "the weather in Lyon", "n": 3})
    mh.put_item(("mem", "b"), "4", {"text": "cat food", "n": 4}, index=False)
    mh.put_item(("elsewhere",), "5", {"text": "another cat", "n": 5})

    found = mh.search_items(("mem",), query="cat")
    assert {i.key for i in found} == {"1", "2"}  # "4" is not indexed, "5" is elsewhere
    assert all(i.score is not None and i.score > 0 for i in found)
    assert [i.score for i in found] == sorted((i.score or 0 for i in found), reverse=True)
    assert {i.key for i in mh.search_items(query="cat")} == {"1", "2", "5"}

    newest_first = mh.search_items(("mem",))
    assert [i.key for i in newest_first] == ["4", "3", "2", "1"]
    assert all(i.score is None for i in newest_first)
    assert [i.key for i in mh.search_items(("mem",), limit=2, offset=1)] == ["3", "2"]
    assert [i.key for i in mh.search_items(("mem",), filter={"n": {"$gte": 2, "$lt": 4}})] == [
        "3",
        "2",
    ]
    assert [i.key for i in mh.search_items("mem", filter={"n": 4})] == ["4"]
    by_query = mh.search_items(("mem",), query="cat", filter={"n": {"$ne": 1}})
    assert [i.key for i in by_query] == ["2"]


def test_namespaces_are_listed_by_prefix_suffix_and_depth(mh: Memhead) -> None:
    for namespace in [("a", "x", "1"), ("a", "y", "1"), ("a", "y", "2"), ("b", "x", "1")]:
        mh.put_item(namespace, "k", {"text": "t"})
    assert mh.list_namespaces(prefix=["a"]) == [("a", "x", "1"), ("a", "y", "1"), ("a", "y", "2")]
    assert mh.list_namespaces(suffix=["x", "1"]) == [("a", "x", "1"), ("b", "x", "1")]
    assert mh.list_namespaces(prefix=["*", "x"]) == [("a", "x", "1"), ("b", "x", "1")]
    assert mh.list_namespaces(max_depth=2) == [("a", "x"), ("a", "y"), ("b", "x")]
    assert mh.list_namespaces(limit=2, offset=1) == [("a", "y", "1"), ("a", "y", "2")]


def test_an_item_with_a_ttl_expires(mh: Memhead) -> None:
    mh.put_item(("tmp",), "brief", {"text": "gone soon"}, ttl=0.005)  # 300 ms
    mh.put_item(("tmp",), "long", {"text": "stays"}, ttl=60)
    brief = mh.get_item(("tmp",), "brief", refresh_ttl=False)
    assert brief is not None and brief.expires_at is not None
    assert brief.expires_at - brief.updated_at == timedelta(milliseconds=300)
    time.sleep(0.5)
    assert mh.get_item(("tmp",), "brief") is None
    assert [i.key for i in mh.search_items(("tmp",))] == ["long"]


def test_bad_items_raise_invalid_request_and_store_nothing(mh: Memhead) -> None:
    with pytest.raises(InvalidRequestError, match="namespace"):
        mh.put_item(("a.b",), "k", {"text": "x"})
    with pytest.raises(InvalidRequestError, match="key"):
        mh.put_item(("ns",), "k" * 1025, {"text": "x"})
    with pytest.raises(InvalidRequestError, match="65536"):
        mh.put_item(("ns",), "big", {"text": "x" * 70_000})
    with pytest.raises(InvalidRequestError, match=r"\$like"):
        mh.search_items(filter={"n": {"$like": 1}})
    with pytest.raises(InvalidRequestError, match="limit"):
        mh.search_items(limit=0)
    with pytest.raises(ValueError, match="at least one label"):
        mh.put_item((), "k", {"text": "x"})
    with pytest.raises(ValueError, match="'.'"):
        mh.get_item(("a.b",), "k")  # sent as namespace=a.b it would read ("a", "b")
    assert mh.list_namespaces() == []  # nothing was stored


def test_item_calls_are_retried_and_store_one_item(server: MemheadProcess, key: str) -> None:
    with FlakyProxy(server.port) as proxy, Memhead(proxy.url, api_key=key, backoff_s=0.01) as mh:
        proxy.drop_next(2)  # the put ran twice on the server; its answer never came back
        mh.put_item(("mem",), "k", {"text": "once"})
        proxy.refuse_next(1, status=503)
        assert [i.value for i in mh.search_items(("mem",))] == [{"text": "once"}]
        proxy.drop_next(1)
        mh.delete_item(("mem",), "k")
        proxy.refuse_next(1, status=502)
        assert mh.get_item(("mem",), "k") is None
        assert (proxy.dropped, proxy.refused) == (3, 2)


async def test_the_async_client_makes_the_same_item_calls(server: MemheadProcess, key: str) -> None:
    async with AsyncMemhead(server.url, api_key=key) as mh:
        await mh.put_item(("users", "u"), "pref", {"text": "likes green tea"}, index=["text"])
        item = await mh.get_item(("users", "u"), "pref")
        assert item is not None and item.value == {"text": "likes green tea"}
        (hit,) = await mh.search_items(("users",), query="tea")
        assert hit.key == "pref" and hit.score is not None
        assert await mh.list_namespaces(prefix=["users"]) == [("users", "u")]
        await mh.delete_item(("users", "u"), "pref")
        assert await mh.get_item(("users", "u"), "pref") is None


def test_items_belong_to_the_keys_tenant(server: MemheadProcess) -> None:
    key_a, key_b = new_keys(server, "a", "b")
    with Memhead(server.url, api_key=key_a) as a, Memhead(server.url, api_key=key_b) as b:
        a.put_item(("shared",), "secret", {"text": "zebra code of a"})
        assert b.get_item(("shared",), "secret") is None
        assert b.search_items(query="zebra") == []
        assert b.list_namespaces() == []
        b.delete_item(("shared",), "secret")
        item = a.get_item(("shared",), "secret")
        assert item is not None and item.value == {"text": "zebra code of a"}
    with Memhead(server.url) as anonymous, pytest.raises(AuthenticationError):
        anonymous.get_item(("shared",), "secret")

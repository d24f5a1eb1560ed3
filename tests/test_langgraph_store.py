"""``MemheadStore`` as LangGraph's ``BaseStore``, against a real ``memhead serve`` process on
SQLite and on Redis: batches, get/put/delete, search by namespace prefix, filter, page and
query, namespace listing with prefix/suffix/wildcards/depth, TTL with refresh, errors. What
LangGraph's own store suites check, written for memhead (each test in a tenant of its own)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.base import (
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchItem,
    SearchOp,
)

from memhead.client import (
    APIConnectionError,
    AsyncMemhead,
    AuthenticationError,
    InvalidRequestError,
    Memhead,
)
from memhead.integrations.langgraph import MemheadStore
from tests.item_deployments import ItemDeployment, item_deployment
from tests.servers import FlakyProxy, free_port


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ItemDeployment]:
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    with item_deployment(tmp_path_factory.mktemp("lgstore"), redis_url=redis_url) as running:
        yield running


@pytest.fixture
def key(deployment: ItemDeployment) -> str:
    return deployment.new_key()


@pytest.fixture
def store(deployment: ItemDeployment, key: str) -> Iterator[MemheadStore]:
    with MemheadStore(deployment.url, api_key=key, max_retries=0) as s:
        yield s


@pytest.fixture
async def astore(deployment: ItemDeployment, key: str) -> AsyncIterator[MemheadStore]:
    async with MemheadStore(deployment.url, api_key=key, max_retries=0) as s:
        yield s


def keys(items: list[Any]) -> list[str]:
    return [item.key for item in items]


def score_of(key: str, hits: list[SearchItem]) -> float:
    """A hit's score; 0 when the search did not find it at all."""
    return next((hit.score or 0.0 for hit in hits if hit.key == key), 0.0)


MIXED_BATCH = [
    GetOp(("test", "foo"), "key1"),
    PutOp(("test", "bar"), "key2", {"data": "value2"}),
    SearchOp(("test",), filter={"data": "value1"}, limit=10),
    ListNamespacesOp(match_conditions=(), limit=10),
    GetOp(("test",), "absent"),
]


def check_mixed(results: list[Any]) -> None:
    assert len(results) == 5
    got = results[0]
    assert isinstance(got, Item) and (got.namespace, got.key) == (("test", "foo"), "key1")
    assert got.value == {"data": "value1"}
    assert results[1] is None
    assert [(i.key, i.value) for i in results[2]] == [("key1", {"data": "value1"})]
    assert isinstance(results[2][0], SearchItem) and results[2][0].score is None
    assert results[3] == [("test", "foo")]  # the batch's own put lands after its reads
    assert results[4] is None


def test_batch_results_follow_the_order_of_the_ops(store: MemheadStore) -> None:
    store.put(("test", "foo"), "key1", {"data": "value1"})
    check_mixed(store.batch(MIXED_BATCH))
    again = store.batch(
        [
            ListNamespacesOp(match_conditions=(), limit=10),
            PutOp(("test",), "key3", {"data": "value3"}),
            GetOp(("test", "bar"), "key2"),
            SearchOp(("test",), limit=10),
        ]
    )
    assert again[0] == [("test", "bar"), ("test", "foo")] and again[1] is None
    assert again[2].value == {"data": "value2"}
    assert sorted(keys(again[3])) == ["key1", "key2"]
    assert store.get(("test",), "key3").value == {"data": "value3"}  # type: ignore[union-attr]


async def test_abatch_results_follow_the_order_of_the_ops(astore: MemheadStore) -> None:
    await astore.aput(("test", "foo"), "key1", {"data": "value1"})
    check_mixed(await astore.abatch(MIXED_BATCH))
    assert (await astore.aget(("test", "bar"), "key2")).value == {"data": "value2"}  # type: ignore[union-attr]


def test_reads_see_the_store_before_the_batch_writes_and_the_last_put_wins(
    store: MemheadStore,
) -> None:
    ns = ("notes",)
    store.put(ns, "k", {"n": 0})
    results = store.batch(
        [
            PutOp(ns, "k", {"n": 1}),
            GetOp(ns, "k"),
            PutOp(ns, "k", {"n": 2}),
            PutOp(ns, "gone", {"n": 3}),
            PutOp(ns, "gone", None),
        ]
    )
    assert results[1].value == {"n": 0}  # type: ignore[union-attr]
    assert store.get(ns, "k").value == {"n": 2}  # type: ignore[union-attr]
    assert store.get(ns, "gone") is None


async def test_abatch_runs_many_ops_and_keeps_their_order(astore: MemheadStore) -> None:
    await astore.abatch([PutOp(("many", str(i)), f"k{i}", {"i": i}) for i in range(30)])
    ops = [GetOp(("many", str(i)), f"k{i}") for i in reversed(range(30))]
    found = await astore.abatch([*ops, SearchOp(("many",), limit=100)])
    assert [item.value["i"] for item in found[:30]] == list(reversed(range(30)))
    assert len(found[30]) == 30


class CountingProxy(FlakyProxy):
    """Passes everything on, counting the connections open at once (``peak``)."""

    open = peak = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        self.peak = max(self.peak, self.open)
        try:
            await super()._serve(reader, writer)
        finally:
            self.open -= 1


def test_abatch_sends_its_ops_at_once_and_batch_one_after_another(
    deployment: ItemDeployment, key: str
) -> None:
    ops = [SearchOp((str(i),)) for i in range(8)]
    with CountingProxy(deployment.process.port) as proxy:
        with MemheadStore(proxy.url, api_key=key) as store:
            assert store.batch(ops) == [[]] * 8
        assert proxy.peak == 1  # one kept-alive connection, a request at a time

        async def concurrently() -> list[Any]:
            async with MemheadStore(proxy.url, api_key=key) as store:
                return await store.abatch(ops)

        assert asyncio.run(concurrently()) == [[]] * 8
        assert proxy.peak > 1


def test_put_get_replace_and_delete(store: MemheadStore) -> None:
    ns, value = ("test", "documents"), {"title": "Test Document", "content": "Hello, World!"}
    before = datetime.now().astimezone()
    store.put(ns, "doc1", value)
    item = store.get(ns, "doc1")
    assert item is not None and (item.namespace, item.key, item.value) == (ns, "doc1", value)
    assert item.created_at.tzinfo is not None and item.created_at == item.updated_at
    assert abs((item.created_at - before).total_seconds()) < 60
    time.sleep(0.01)
    store.put(ns, "doc1", {"title": "Updated"})
    updated = store.get(ns, "doc1")
    assert updated is not None and updated.value == {"title": "Updated"}
    assert updated.created_at == item.created_at and updated.updated_at > item.updated_at
    assert store.get(("test", "other"), "doc1") is None
    assert store.get(("test",), "doc1") is None  # a namespace is matched whole
    store.delete(ns, "doc1")
    assert store.get(ns, "doc1") is None
    store.delete(ns, "doc1")  # deleting what is gone succeeds


async def test_async_put_get_search_list_and_delete(astore: MemheadStore) -> None:
    await astore.aput(("a", "b"), "k", {"text": "an async note"})
    got = await astore.aget(("a", "b"), "k")
    assert got is not None and got.value == {"text": "an async note"}
    found = await astore.asearch(("a",), query="async")
    assert keys(found) == ["k"] and found[0].score is not None and found[0].score > 0
    assert await astore.alist_namespaces(prefix=("a",)) == [("a", "b")]
    await astore.adelete(("a", "b"), "k")
    assert await astore.aget(("a", "b"), "k") is None
    assert await astore.alist_namespaces() == []


def test_values_come_back_as_they_went(store: MemheadStore) -> None:
    value = {
        "text": "ünï cødé ✓ 这是中文",
        "nested": {"list": [1, 2.5, None, True, "x"], "empty": {}},
        "quote": 'O\'Brien "said"',
    }
    store.put(("odd label with spaces", "ünï", "a/b?c#d%e"), "key with/slash & ?", value)
    item = store.get(("odd label with spaces", "ünï", "a/b?c#d%e"), "key with/slash & ?")
    assert item is not None and item.value == value


def test_search_stays_within_whole_labels_of_the_prefix(store: MemheadStore) -> None:
    for ns in [("foo",), ("foo", "child"), ("foo", "child", "deep"), ("foobar",), ("Foo",)]:
        store.put(ns, "k", {"v": 1})

    def namespaces(prefix: tuple[str, ...]) -> set[tuple[str, ...]]:
        return {item.namespace for item in store.search(prefix, limit=100)}

    assert namespaces(("foo",)) == {("foo",), ("foo", "child"), ("foo", "child", "deep")}
    assert namespaces(("foo", "child")) == {("foo", "child"), ("foo", "child", "deep")}
    assert namespaces(("fo",)) == set()
    assert namespaces(("Foo",)) == {("Foo",)}
    assert len(namespaces(())) == 5  # the empty prefix: the whole tenant


def test_search_filters_on_value_fields(store: MemheadStore) -> None:
    ns = ("items",)
    rows = {
        "a": {"price": 10, "kind": "tool", "tags": ["x"], "active": True},
        "b": {"price": 20, "kind": "tool", "tags": ["y"], "active": False},
        "c": {"price": 30, "kind": "toy", "tags": ["x"], "active": True},
        "d": {"price": -5, "kind": "toy"},
    }
    for key, value in rows.items():
        store.put(ns, key, value)

    def found(flt: dict[str, Any]) -> list[str]:
        return sorted(keys(store.search(ns, filter=flt, limit=100)))

    assert found({"kind": "tool"}) == ["a", "b"]
    assert found({"kind": "tool", "active": False}) == ["b"]
    assert found({"active": True}) == ["a", "c"]
    assert found({"tags": ["x"]}) == ["a", "c"]
    assert found({"price": {"$eq": 20}}) == ["b"]
    assert found({"price": {"$ne": 20}}) == ["a", "c", "d"]
    assert found({"price": {"$gt": 10}}) == ["b", "c"]
    assert found({"price": {"$gte": 10}}) == ["a", "b", "c"]
    assert found({"price": {"$lt": 0}}) == ["d"]
    assert found({"price": {"$lte": 10}, "kind": "tool"}) == ["a"]
    assert found({"price": {"$gt": 5, "$lt": 25}}) == ["a", "b"]
    assert found({"kind": "public' OR '1'='1"}) == []
    assert found({"missing": 1}) == []


def test_search_pages_most_recently_updated_first(store: MemheadStore) -> None:
    ns = ("paged",)
    for i in range(7):
        store.put(ns, f"k{i}", {"i": i})
        time.sleep(0.002)
    store.put(ns, "k2", {"i": 2, "touched": True})
    order = ["k2", "k6", "k5", "k4", "k3", "k1", "k0"]
    assert keys(store.search(ns, limit=100)) == order
    pages = [keys(store.search(ns, limit=3, offset=o)) for o in (0, 3, 6, 9)]
    assert pages == [order[:3], order[3:6], order[6:], []]
    assert keys(store.search(ns, filter={"i": {"$gte": 3}}, limit=2, offset=1)) == ["k5", "k4"]
    assert all(hit.score is None for hit in store.search(ns))
    assert len(store.search(ns)) == 7  # LangGraph's default page is 10


def test_search_by_query_ranks_best_first(store: MemheadStore) -> None:
    ns = ("docs",)
    docs = {
        "apple-red": {"text": "red apple", "color": "red", "score": 4.5},
        "car-red": {"text": "red car", "color": "red", "score": 3.0},
        "apple-green": {"text": "green apple", "color": "green", "score": 4.0},
        "car-blue": {"text": "blue car", "color": "blue", "score": 3.5},
    }
    for key, value in docs.items():
        store.put(ns, key, value)
    hits = store.search(ns, query="apple", filter={"color": "red"})
    assert keys(hits)[0] == "apple-red"
    assert keys(store.search(ns, query="car", filter={"color": "red"}))[0] == "car-red"
    blue = store.search(ns, query="blue car", filter={"score": {"$gt": 3.2}})
    assert keys(blue)[0] == "car-blue" and set(keys(blue)) <= {
        "car-blue",
        "apple-red",
        "apple-green",
    }
    green = store.search(ns, query="green apple")
    assert keys(green)[0] == "apple-green"
    scores = [hit.score for hit in green]
    assert all(s is not None for s in scores) and scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    assert keys(store.search(ns, query="")) == keys(store.search(ns))  # no query: a listing


def test_query_pages_do_not_overlap(store: MemheadStore) -> None:
    ns = ("pages",)
    for i in range(5):
        store.put(ns, f"doc{i}", {"text": f"test document number {i}"})
    # The ranking changes while the worker embeds the items (vector hits join the keyword
    # ones): page once it holds still.
    ranked: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = keys(store.search(ns, query="test document", limit=10))
        if now == ranked:
            break
        ranked = now
    first = store.search(ns, query="test document", limit=2)
    second = store.search(ns, query="test document", limit=2, offset=2)
    everything = store.search(ns, query="test document", limit=10)
    assert len(first) == len(second) == 2 and not set(keys(first)) & set(keys(second))
    assert keys(everything)[:4] == keys(first) + keys(second) and len(everything) == 5


def test_index_decides_what_a_query_finds(store: MemheadStore) -> None:
    ns = ("indexed",)
    store.put(ns, "whole", {"text": "zebra crossing", "note": "walrus"})
    store.put(ns, "fields", {"title": "okapi", "body": "narwhal"}, index=["title"])
    store.put(ns, "hidden", {"text": "zebra okapi narwhal walrus"}, index=False)
    assert "whole" in keys(store.search(ns, query="walrus"))  # default index: the whole value
    okapi = store.search(ns, query="okapi")
    assert keys(okapi)[0] == "fields"
    narwhal = store.search(ns, query="narwhal")  # in "fields", but not in what it indexes
    assert score_of("fields", narwhal) < score_of("fields", okapi)
    for word in ("zebra", "okapi", "narwhal", "walrus"):
        assert "hidden" not in keys(store.search(ns, query=word))
    assert "hidden" in keys(store.search(ns))  # still listed, and read by key
    assert store.get(ns, "hidden") is not None


def test_list_namespaces_by_prefix_suffix_wildcard_and_depth(store: MemheadStore) -> None:
    spaces = [
        ("test", "documents", "public"),
        ("test", "documents", "private"),
        ("test", "images", "public"),
        ("prod", "documents", "public"),
        ("prod", "documents", "some", "nesting", "public"),
        ("uid", "users", "alice"),
        ("uid", "users", "malice"),
        ("foobar",),
    ]
    for ns in spaces:
        store.put(ns, "dummy", {"content": "dummy"})
    listed = store.list_namespaces
    assert listed(limit=100) == sorted(spaces)
    assert listed(prefix=("test",)) == [spaces[1], spaces[0], spaces[2]]
    assert listed(prefix=("foo",)) == []
    assert set(listed(suffix=("public",))) == {spaces[i] for i in (0, 2, 3, 4)}
    assert listed(suffix=("alice",)) == [("uid", "users", "alice")]
    assert listed(prefix=("test",), suffix=("public",)) == [spaces[0], spaces[2]]
    assert listed(prefix=("*", "documents")) == sorted(spaces[i] for i in (0, 1, 3, 4))
    assert listed(suffix=("some", "*", "public")) == [spaces[4]]
    assert listed(prefix=("uid", "*", "alice")) == [("uid", "users", "alice")]
    assert listed(max_depth=2) == sorted(
        {("test", "documents"), ("test", "images"), ("prod", "documents")}
        | {("uid", "users"), ("foobar",)}
    )
    assert listed(prefix=("prod",), max_depth=3) == [
        ("prod", "documents", "public"),
        ("prod", "documents", "some"),
    ]
    assert listed(limit=3) == sorted(spaces)[:3]
    assert listed(limit=3, offset=6) == sorted(spaces)[6:]


def test_batch_of_list_namespaces_ops(store: MemheadStore) -> None:
    for ns in [("a", "x", "public"), ("a", "y", "private"), ("b", "x", "public")]:
        store.put(ns, "k", {"v": 1})
    suffix = (MatchCondition("suffix", ("public",)),)
    both = (MatchCondition("prefix", ("a",)), MatchCondition("suffix", ("public",)))
    results = store.batch(
        [
            ListNamespacesOp(match_conditions=suffix),
            ListNamespacesOp(match_conditions=both),
            ListNamespacesOp(max_depth=1),
        ]
    )
    assert results == [
        [("a", "x", "public"), ("b", "x", "public")],
        [("a", "x", "public")],
        [("a",), ("b",)],
    ]
    two_prefixes = (MatchCondition("prefix", ("a",)), MatchCondition("prefix", ("b",)))
    with pytest.raises(ValueError, match="at most one prefix"):
        store.batch([ListNamespacesOp(match_conditions=two_prefixes)])


TTL = 0.06
"""Minutes (3.6 s): long enough that a request is far shorter, short enough to wait out."""
STEP = 2.4


def sleep_until(start: float, offset: float) -> None:
    time.sleep(max(0.0, start + offset - time.monotonic()))


def test_ttl_expiry_and_refresh_on_get_and_search(deployment: ItemDeployment) -> None:
    """One timeline: every item expires TTL after its put or its last refreshing read."""
    key = deployment.new_key()
    plain = MemheadStore(deployment.url, api_key=key, max_retries=0)
    configured = MemheadStore(
        deployment.url,
        api_key=key,
        max_retries=0,
        ttl={"default_ttl": TTL, "refresh_on_read": False},
    )
    ns = ("ttl",)
    start = time.monotonic()
    for key in ("by-get", "by-search", "read-only", "untouched"):
        plain.put(ns, key, {"name": key}, ttl=TTL)
    plain.put(ns, "forever", {"name": "forever"})
    plain.put(("ttl", "alone"), "only", {"name": "only"}, ttl=TTL)
    configured.put(ns, "config-default", {"name": "config-default"})
    configured.put(ns, "config-none", {"name": "config-none"}, ttl=None)

    sleep_until(start, STEP)  # 2.4 s: all live; some reads refresh
    assert plain.get(ns, "by-get") is not None  # refresh_ttl defaults to true
    assert keys(plain.search(ns, filter={"name": "by-search"})) == ["by-search"]
    assert plain.get(ns, "read-only", refresh_ttl=False) is not None
    assert configured.get(ns, "config-default") is not None  # the config says no refresh

    sleep_until(start, 2 * STEP)  # 4.8 s: refreshed ones live until ~6.0 s, the rest gone
    live = {"by-get", "by-search", "forever", "config-none"}
    assert set(keys(plain.search(ns, refresh_ttl=False, limit=100))) == live
    assert plain.get(ns, "read-only") is None and plain.get(ns, "untouched") is None
    assert plain.list_namespaces() == [ns]  # ("ttl", "alone") held only an expired item

    sleep_until(start, 3 * STEP)  # 7.2 s: only what never expires
    assert set(keys(plain.search(ns, limit=100))) == {"forever", "config-none"}
    plain.close()
    configured.close()


def test_an_invalid_namespace_is_refused_before_any_request(store: MemheadStore) -> None:
    with pytest.raises(InvalidNamespaceError, match="periods"):
        store.put(("a.b",), "k", {"v": 1})
    with pytest.raises(InvalidNamespaceError):
        store.batch([GetOp(("a", ""), "k")])
    with pytest.raises(InvalidNamespaceError):
        store.search(("a.b",))
    with pytest.raises(InvalidNamespaceError, match="langgraph"):
        store.put(("langgraph", "x"), "k", {"v": 1})
    assert store.list_namespaces() == []


def test_a_request_the_server_refuses_raises_its_message(store: MemheadStore) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        store.put(("big",), "k", {"blob": "x" * 70_000})
    assert refused.value.status_code in (400, 413, 422) and "65536" in refused.value.message
    with pytest.raises(InvalidRequestError):
        store.search(("big",), limit=0)
    with pytest.raises(InvalidRequestError):
        store.put(("deep",) * 17, "k", {"v": 1})
    assert store.list_namespaces() == []  # nothing was stored


async def test_a_wrong_key_or_no_server_raises(deployment: ItemDeployment) -> None:
    with (
        MemheadStore(deployment.url, api_key="mh_wrong_key", max_retries=0) as wrong,
        pytest.raises(AuthenticationError),
    ):
        wrong.get(("a",), "k")
    nowhere = f"http://127.0.0.1:{free_port()}"
    async with MemheadStore(nowhere, max_retries=0) as absent:
        with pytest.raises(APIConnectionError):
            await absent.aget(("a",), "k")


def test_tenants_see_only_their_own_items(deployment: ItemDeployment) -> None:
    with (
        MemheadStore(deployment.url, api_key=deployment.new_key()) as a,
        MemheadStore(deployment.url, api_key=deployment.new_key()) as b,
    ):
        a.put(("shared", "name"), "k", {"owner": "a", "text": "secret plans"})
        assert b.get(("shared", "name"), "k") is None
        assert b.search((), query="secret plans") == [] and b.list_namespaces() == []
        b.put(("shared", "name"), "k", {"owner": "b"})
        assert a.get(("shared", "name"), "k").value["owner"] == "a"  # type: ignore[union-attr]


async def test_clients_passed_in_are_used_and_left_open(
    deployment: ItemDeployment, key: str
) -> None:
    with Memhead(deployment.url, api_key=key) as mh:
        async with AsyncMemhead(deployment.url, api_key=key) as amh:
            async with MemheadStore(client=mh, async_client=amh) as s:
                s.put(("shared",), "k", {"v": 1})
                assert (await s.aget(("shared",), "k")) is not None
            assert len(mh.list_sessions().sessions) == 0  # still open after the store closed
            assert (await amh.list_sessions()).sessions == []


def test_one_store_serves_several_event_loops(store: MemheadStore) -> None:
    """``asyncio.run`` twice (a script, a notebook cell): each loop gets working connections."""
    store.put(("loops",), "k", {"v": 1})

    async def read() -> Item | None:
        try:
            return await store.aget(("loops",), "k")
        finally:
            await store.aclose()

    for _ in range(2):
        assert asyncio.run(read()) is not None
    assert store.get(("loops",), "k") is not None  # closed connections reopen on demand


def test_the_store_is_what_langgraph_expects() -> None:
    from langgraph.store.base import BaseStore

    s = MemheadStore("http://127.0.0.1:1")
    assert isinstance(s, BaseStore) and s.supports_ttl and s.ttl_config is None


def test_the_server_never_needs_langgraph(tmp_path: Path) -> None:
    """The server, worker and client import nothing of LangGraph (it is an optional extra)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "for name in ('langgraph', 'langchain_core', 'langmem'):\n"
        "    sys.modules[name] = None\n"
        "import memhead.app, memhead.cli, memhead.worker, memhead.client\n"
        "try:\n"
        "    import memhead.integrations.langgraph\n"
        "except ImportError as exc:\n"
        "    print('needs', exc.name)\n"
    )
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert got.returncode == 0, got.stderr
    assert got.stdout.startswith("needs langgraph"), got.stdout

"""Memory items over real HTTP (``/store``, LangGraph Platform's shape) on every shared
backend: each route, its refusals, tenants, TTL with the sweep running, hybrid search once
the worker has embedded items, and ``langgraph_sdk``'s own store client against it."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk._async.store import StoreClient
from langgraph_sdk.errors import AuthenticationError, NotFoundError

from memhead import Settings, create_app
from memhead.providers import build_embedder
from memhead.stores import Store
from tests.backends import StoreFactory, on_shared_backends
from tests.fake_openai import FakeOpenAI
from tests.servers import serve_in_thread
from tests.test_auth import keys_for

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
pytestmark = on_shared_backends


@contextmanager
def serving(store: Store, *, embed: bool = False, **settings: Any) -> Iterator[httpx.Client]:
    """A real server over ``store`` (with the fake embedder when ``embed``)."""
    with FakeOpenAI() as fake:
        config = Settings(
            llm_base_url=fake.base_url if embed else None, worker_poll_s=0.05, **settings
        )
        embedder = build_embedder(config, "fake-embedding") if embed else None
        app = create_app(config, store=store, embedder=embedder)
        with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=10) as client:
            yield client


@pytest.fixture
def client(backend: StoreFactory) -> Iterator[httpx.Client]:
    with serving(backend()) as c:
        yield c


def put(client: httpx.Client, namespace: list[str], key: str, value: Any, **extra: Any) -> None:
    r = client.put(
        "/store/items", json={"namespace": namespace, "key": key, "value": value, **extra}
    )
    assert r.status_code == 204, r.text
    assert r.content == b""


def get(client: httpx.Client, namespace: list[str], key: str, **params: Any) -> httpx.Response:
    return client.get(
        "/store/items", params={"namespace": ".".join(namespace), "key": key, **params}
    )


def search(client: httpx.Client, **body: Any) -> list[dict[str, Any]]:
    r = client.post("/store/items/search", json=body)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def keys(items: list[dict[str, Any]]) -> list[str]:
    return [i["key"] for i in items]


def test_put_get_replace_and_delete(client: httpx.Client) -> None:
    put(client, ["users", "ada"], "kettle", {"colour": "blue", "n": 1})
    first = get(client, ["users", "ada"], "kettle")
    assert first.status_code == 200
    body = first.json()
    assert body["namespace"] == ["users", "ada"] and body["key"] == "kettle"
    assert body["value"] == {"colour": "blue", "n": 1}
    assert ISO_MS.match(body["created_at"]) and body["created_at"] == body["updated_at"]
    assert "expires_at" not in body  # no TTL
    time.sleep(0.01)
    put(client, ["users", "ada"], "kettle", {"colour": "green"})
    again = get(client, ["users", "ada"], "kettle").json()
    assert again["value"] == {"colour": "green"}
    assert again["created_at"] == body["created_at"] and again["updated_at"] > body["updated_at"]
    assert get(client, ["users"], "kettle").status_code == 404  # namespaces match whole
    put(client, ["users", "ada"], "kettle", None)  # a null value deletes
    missing = get(client, ["users", "ada"], "kettle")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no item 'kettle' in namespace ['users', 'ada']"}
    put(client, ["users", "ada"], "tea", {"kind": "green"})
    ref = {"namespace": ["users", "ada"], "key": "tea"}
    assert client.request("DELETE", "/store/items", json=ref).status_code == 204
    assert client.request("DELETE", "/store/items", json=ref).status_code == 204  # idempotent
    assert get(client, ["users", "ada"], "tea").status_code == 404


def test_odd_labels_and_keys_round_trip(client: httpx.Client) -> None:
    namespace = ["ns with space", "ünï/cødé", "*", "a:b"]
    put(client, namespace, "k/ey?&=#", {"emoji": "🫖", "nul": "\x00"})
    got = get(client, namespace, "k/ey?&=#").json()
    assert got["namespace"] == namespace and got["value"] == {"emoji": "🫖", "nul": "\x00"}


def test_search_without_a_query_filters_and_pages_most_recent_first(client: httpx.Client) -> None:
    for n in range(6):
        put(
            client,
            ["docs", f"u{n % 2}"],
            f"d{n}",
            {"n": n, "kind": "even" if n % 2 == 0 else "odd"},
        )
        time.sleep(0.002)
    put(client, ["other"], "x", {"n": 99})
    every = search(client, namespace_prefix=["docs"])
    assert keys(every) == ["d5", "d4", "d3", "d2", "d1", "d0"]
    assert all(i["score"] is None for i in every)
    assert keys(search(client, namespace_prefix=["docs", "u0"])) == ["d4", "d2", "d0"]
    assert keys(search(client, namespace_prefix=["docs"], limit=2, offset=1)) == ["d4", "d3"]
    assert keys(search(client, namespace_prefix=["docs"], filter={"kind": "odd"})) == [
        "d5",
        "d3",
        "d1",
    ]
    ranged = {"n": {"$gte": 1, "$lt": 4}}
    assert keys(search(client, namespace_prefix=["docs"], filter=ranged)) == ["d3", "d2", "d1"]
    not_two = {"n": {"$ne": 2}, "kind": {"$eq": "even"}}
    assert keys(search(client, namespace_prefix=["docs"], filter=not_two)) == ["d4", "d0"]
    page = search(client, namespace_prefix=["docs"], filter={"kind": "even"}, limit=2)
    assert keys(page) == ["d4", "d2"]  # filtered before the page is cut
    assert len(search(client, namespace_prefix=[])) == 7  # the whole tenant
    assert search(client, namespace_prefix=["doc"]) == []  # prefixes are whole labels


def test_keyword_search_finds_indexed_text_at_once(client: httpx.Client) -> None:
    put(
        client,
        ["m"],
        "kettle",
        {"text": "Ada likes her blue kettle", "note": "zebra"},
        index=["text"],
    )
    put(client, ["m"], "tea", {"text": "green tea at eighty degrees, with the kettle"})
    put(client, ["m"], "hidden", {"text": "the kettle nobody may find"}, index=False)
    put(client, ["m"], "tags", {"tags": ["kettle", "blue"], "text": "other"}, index=["tags[*]"])
    found = search(client, namespace_prefix=["m"], query="blue kettle")
    assert set(keys(found)) == {"kettle", "tea", "tags"}
    assert keys(found)[0] in {"kettle", "tags"}  # both words
    scores = [i["score"] for i in found]
    assert all(isinstance(s, float) for s in scores) and scores == sorted(scores, reverse=True)
    assert search(client, namespace_prefix=["m"], query="zebra") == []  # not an indexed path
    assert keys(search(client, namespace_prefix=["m"], query="degrees")) == ["tea"]  # default $
    assert search(client, namespace_prefix=["m"], query="nobody") == []  # index=False
    filtered = search(client, namespace_prefix=["m"], query="kettle", filter={"note": "zebra"})
    assert keys(filtered) == ["kettle"]
    paged = search(client, namespace_prefix=["m"], query="kettle", limit=1, offset=1)
    assert keys(paged) == [keys(search(client, namespace_prefix=["m"], query="kettle"))[1]]


def test_list_namespaces_with_conditions_depth_and_pages(client: httpx.Client) -> None:
    for ns in (["a", "b", "c"], ["a", "b", "d"], ["a", "x"], ["z", "b", "c"]):
        put(client, ns, "k", {"v": 1})

    def listed(**body: Any) -> list[list[str]]:
        r = client.post("/store/namespaces", json=body)
        assert r.status_code == 200, r.text
        return list(r.json()["namespaces"])

    assert listed() == [["a", "b", "c"], ["a", "b", "d"], ["a", "x"], ["z", "b", "c"]]
    assert listed(prefix=["a", "b"]) == [["a", "b", "c"], ["a", "b", "d"]]
    assert listed(suffix=["c"]) == [["a", "b", "c"], ["z", "b", "c"]]
    assert listed(prefix=["*", "b"]) == [["a", "b", "c"], ["a", "b", "d"], ["z", "b", "c"]]
    assert listed(max_depth=2) == [["a", "b"], ["a", "x"], ["z", "b"]]
    assert listed(limit=2, offset=1) == [["a", "b", "d"], ["a", "x"]]


BAD: list[tuple[str, str, dict[str, Any], int, str]] = [
    (
        "PUT",
        "/store/items",
        {"namespace": ["a.b"], "key": "k", "value": {}},
        400,
        "namespace label 'a.b' must not contain '.'",
    ),
    (
        "PUT",
        "/store/items",
        {"namespace": ["a"] * 17, "key": "k", "value": {}},
        400,
        "namespace has 17 labels; at most 16",
    ),
    (
        "PUT",
        "/store/items",
        {"namespace": [], "key": "k", "value": {}},
        400,
        "namespace must have at least one label",
    ),
    (
        "PUT",
        "/store/items",
        {"namespace": ["a"], "key": "k" * 1025, "value": {}},
        400,
        "key longer than 1024 characters",
    ),
    (
        "PUT",
        "/store/items",
        {"namespace": ["a"], "key": "", "value": {}},
        400,
        "key must be a non-empty string",
    ),
    (
        "PUT",
        "/store/items",
        {"namespace": ["a"], "key": "k", "value": {"t": "x" * 70_000}},
        400,
        "value is 70008 bytes as JSON; at most 65536 (MEMHEAD_ITEM_MAX_BYTES)",
    ),
    (
        "PUT",
        "/store/items",
        {"namespace": ["a"], "key": "k", "value": [1, 2]},
        400,
        "value must be a JSON object",
    ),
    (
        "PUT",
        "/store/items",
        {"namespace": ["a"], "key": "k", "value": {"n": 2**70}},
        400,
        "value cannot be stored as JSON",
    ),
    (
        "PUT",
        "/store/items",
        {"namespace": ["a"], "key": "k", "value": {}, "index": ["a["]},
        400,
        "index path 'a[': unclosed",
    ),
    (
        "PUT",
        "/store/items",
        {"namespace": ["a"], "key": "k", "value": {}, "ttl": 0},
        422,
        "ttl: Input should be greater than 0",
    ),
    (
        "PUT",
        "/store/items",
        {"namespace": ["a"], "key": "k", "value": {}, "extra": 1},
        422,
        "extra: Extra inputs are not permitted",
    ),
    ("PUT", "/store/items", {"key": "k", "value": {}}, 422, "namespace: Field required"),
    (
        "POST",
        "/store/items/search",
        {"filter": {"n": {"$like": 1}}},
        400,
        "filter on 'n': unknown operator '$like'",
    ),
    ("POST", "/store/items/search", {"limit": 0}, 422, "limit: Input should be greater than"),
    ("POST", "/store/items/search", {"limit": 1001}, 422, "limit: Input should be less than"),
    ("POST", "/store/items/search", {"offset": -1}, 422, "offset: Input should be greater"),
    (
        "POST",
        "/store/items/search",
        {"namespace_prefix": ["x.y"]},
        400,
        "namespace_prefix label 'x.y' must not contain '.'",
    ),
    ("POST", "/store/namespaces", {"max_depth": 0}, 422, "max_depth: Input should be greater"),
    ("POST", "/store/namespaces", {"limit": 5000}, 422, "limit: Input should be less than"),
    (
        "DELETE",
        "/store/items",
        {"namespace": ["a", ""], "key": "k"},
        400,
        "namespace labels must not be empty",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "message"), BAD)
def test_bad_requests_are_json_errors_and_change_nothing(
    client: httpx.Client, method: str, path: str, body: dict[str, Any], status: int, message: str
) -> None:
    put(client, ["a"], "k", {"kept": True})
    r = client.request(method, path, json=body)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]
    assert get(client, ["a"], "k").json()["value"] == {"kept": True}
    assert len(search(client)) == 1


def test_bad_gets_and_bodies(client: httpx.Client) -> None:
    r = client.get("/store/items", params={"namespace": "a..b", "key": "k"})
    assert r.status_code == 400 and r.json() == {"error": "namespace labels must not be empty"}
    r = client.get("/store/items", params={"namespace": "a"})
    assert r.status_code == 422 and "key: Field required" in r.json()["error"]
    r = client.put(
        "/store/items", content=b'{"namespace": ["a"]', headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and "error" in r.json()
    r = client.put("/store/items", content=b"{}", headers={"content-type": "text/plain"})
    assert r.status_code == 415


def test_tenants_see_only_their_own_items(backend: StoreFactory) -> None:
    key_a, key_b = keys_for(backend(), "tenant-a", "tenant-b")
    with serving(backend(), auth="required") as client:
        a, b = {"x-api-key": key_a}, {"Authorization": f"Bearer {key_b}"}
        body = {"namespace": ["shared"], "key": "k", "value": {"owner": "a", "text": "secret"}}
        assert client.put("/store/items", json=body).status_code == 401
        assert client.put("/store/items", json=body, headers=a).status_code == 204
        body_b = {**body, "value": {"owner": "b", "text": "other"}}
        assert client.put("/store/items", json=body_b, headers=b).status_code == 204
        query = {"namespace": "shared", "key": "k"}
        assert client.get("/store/items", params=query, headers=a).json()["value"]["owner"] == "a"
        assert client.get("/store/items", params=query, headers=b).json()["value"]["owner"] == "b"
        found = client.post("/store/items/search", json={"query": "secret"}, headers=b).json()
        assert found == {"items": []}
        client.put("/store/items", json={**body, "namespace": ["a-only"]}, headers=a)
        spaces = client.post("/store/namespaces", json={}, headers=b).json()
        assert spaces == {"namespaces": [["shared"]]}
        ref = {"namespace": ["shared"], "key": "k"}
        assert client.request("DELETE", "/store/items", json=ref, headers=a).status_code == 204
        assert client.get("/store/items", params=query, headers=a).status_code == 404
        assert client.get("/store/items", params=query, headers=b).json()["value"]["owner"] == "b"


def wait_for(check: Any, what: str, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def ms(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp() * 1000


def test_ttl_expiry_refresh_and_the_sweep(backend: StoreFactory) -> None:
    with serving(backend(), item_sweep_interval_s=0.1) as client:
        ttl = 1.5 / 60  # minutes: 1.5 s
        put(client, ["t"], "read", {"v": 1}, ttl=ttl)
        put(client, ["t"], "unread", {"v": 2}, ttl=ttl)
        put(client, ["t"], "forever", {"v": 3})
        item = get(client, ["t"], "read").json()
        assert 1400 <= ms(item["expires_at"]) - ms(item["updated_at"]) <= 3000
        for _ in range(6):  # 2.4 s of reads, each restarting the TTL
            time.sleep(0.4)
            assert get(client, ["t"], "read").status_code == 200
        assert get(client, ["t"], "unread").status_code == 404  # expired: never returned
        assert keys(search(client, namespace_prefix=["t"])) != []
        time.sleep(1.0)
        assert get(client, ["t"], "read", refresh_ttl="false").status_code == 200
        time.sleep(0.7)  # no refresh since 1.7 s
        assert get(client, ["t"], "read").status_code == 404
        assert keys(search(client, namespace_prefix=["t"])) == ["forever"]
        swept = wait_for(
            lambda: re.search(
                r'memhead_jobs_total\{kind="item_sweep",result="done"\} (\d+)',
                client.get("/metrics").text,
            ),
            "the sweep",
        )
        assert int(float(swept.group(1))) >= 2
        assert 'route="/store/items"' in client.get("/metrics").text


def test_default_ttl_and_search_refresh(backend: StoreFactory) -> None:
    with serving(backend(), item_ttl_minutes=1.2 / 60, item_refresh_ttl=False) as client:
        put(client, ["d"], "k", {"text": "kettle"})
        put(client, ["d"], "long", {"text": "kettle"}, ttl=60)
        first = get(client, ["d"], "k").json()
        assert 1100 <= ms(first["expires_at"]) - ms(first["updated_at"]) <= 1300
        time.sleep(0.8)
        again = get(client, ["d"], "k").json()  # MEMHEAD_ITEM_REFRESH_TTL=false
        assert again["expires_at"] == first["expires_at"]
        refreshed = search(client, namespace_prefix=["d"], query="kettle", refresh_ttl=True)
        item = next(i for i in refreshed if i["key"] == "k")
        assert ms(item["expires_at"]) > ms(first["expires_at"])
        time.sleep(0.8)  # past the first expiry, within the refreshed one
        assert get(client, ["d"], "k").status_code == 200
        time.sleep(1.3)
        assert get(client, ["d"], "k").status_code == 404
        assert get(client, ["d"], "long").status_code == 200


def test_hybrid_search_once_the_worker_has_embedded_items(backend: StoreFactory) -> None:
    with serving(backend(), embed=True) as client:
        put(client, ["h"], "kettle", {"text": "a blue kettle for Ada"})
        put(client, ["h"], "tea", {"text": "green tea leaves"})
        put(client, ["h"], "hidden", {"text": "another kettle"}, index=False)
        # keyword hits at once, whatever the worker has done
        assert "kettle" in keys(search(client, namespace_prefix=["h"], query="kettle"))
        # once both are embedded, the vector half finds the item without the word too
        found = wait_for(
            lambda: (
                (f := search(client, namespace_prefix=["h"], query="kettle")) and len(f) == 2 and f
            ),
            "the items to be embedded",
        )
        assert keys(found) == ["kettle", "tea"]  # found by both lists first
        assert found[0]["score"] == pytest.approx(2 / 6)  # fused: 1/(5+1) from each list
        assert found[1]["score"] < found[0]["score"]
        only_tea = search(
            client, namespace_prefix=["h"], query="kettle", filter={"text": "green tea leaves"}
        )
        assert keys(only_tea) == ["tea"]


def test_langgraph_sdk_store_client_with_an_api_key(backend: StoreFactory) -> None:
    (key,) = keys_for(backend(), "lg")
    with serving(backend(), auth="required") as plain:
        url = str(plain.base_url).rstrip("/")
        asyncio.run(sdk_round_trip(url, key))


async def sdk_round_trip(url: str, key: str) -> None:
    async with get_client(url=url, api_key=key) as client:
        await sdk_calls(client.store)
    async with get_client(url=url, api_key=None) as anonymous:
        with pytest.raises(AuthenticationError, match="missing API key"):
            await anonymous.store.get_item(["users", "ada"], key="tea")


async def sdk_calls(store: StoreClient) -> None:
    await store.put_item(["users", "ada"], "kettle", {"text": "blue kettle", "rating": 5})
    await store.put_item(["users", "ada"], "tea", {"text": "green tea", "rating": 3}, ttl=60)
    await store.put_item(["users", "bob"], "bike", {"text": "red bike", "rating": 4}, index=False)
    item = await store.get_item(["users", "ada"], key="kettle")
    assert item["value"] == {"text": "blue kettle", "rating": 5}
    assert item["namespace"] == ["users", "ada"] and item["key"] == "kettle"
    found = await store.search_items(["users"], query="kettle", filter={"rating": {"$gte": 4}})
    assert [i["key"] for i in found["items"]] == ["kettle"] and found["items"][0]["score"] > 0
    listed = await store.search_items(["users"], limit=2)
    assert [i["key"] for i in listed["items"]] == ["bike", "tea"]
    spaces = await store.list_namespaces(prefix=["users"])
    assert spaces == {"namespaces": [["users", "ada"], ["users", "bob"]]}
    await store.delete_item(["users", "ada"], key="kettle")
    with pytest.raises(NotFoundError):
        await store.get_item(["users", "ada"], key="kettle")

"""Tenants and API keys: every route confined to the key's tenant, keys managed by the CLI."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from langchain_community.memory.motorhead_memory import MotorheadMemory
from starlette.routing import Mount

from memhead import Settings, create_app
from memhead.auth import create_key
from memhead.stores import Store
from memhead.stores.sqlite import SqliteStore
from tests.backends import StoreFactory, on_shared_backends
from tests.servers import MemheadProcess, serve_in_thread

SECRET = "b-secret-zebra"
OPEN_ROUTES = {
    "/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/docs/static/{name}",
    "/ui",  # the console's static files: no data (the pages call the API with a key)
}


def keys_for(store: Store, *tenants: str) -> list[str]:
    async def make() -> list[str]:
        await store.setup()
        try:
            return [(await create_key(store, t, f"key of {t}"))[1] for t in tenants]
        finally:
            await store.close()

    return asyncio.run(make())


@pytest.fixture
def server(backend: StoreFactory) -> Iterator[tuple[str, str, str]]:
    """A server with auth required; yields (url, key of tenant A, key of tenant B). The keys
    are made through one store object, the server uses another (as the CLI and a server)."""
    key_a, key_b = keys_for(backend(), "tenant-a", "tenant-b")
    app = create_app(Settings(auth="required", long_term_memory=True), store=backend())
    with serve_in_thread(app) as url:
        yield url, key_a, key_b


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def seed_b(client: httpx.Client, key_b: str) -> None:
    """Tenant B's data under ids tenant A might guess."""
    for sid in ("shared", "b-only"):
        body = {"messages": [{"role": "Human", "content": f"{SECRET} in {sid}"}], "context": SECRET}
        assert (
            client.post(f"/sessions/{sid}/memory", json=body, headers=bearer(key_b)).status_code
            == 200
        )
    client.put("/api/v1/sessions/b-only", json={"user_id": "u"}, headers=bearer(key_b))
    for ns in ("shared", "b-only"):
        item = {"namespace": [ns], "key": "k", "value": {"text": SECRET}}
        assert client.put("/store/items", json=item, headers=bearer(key_b)).status_code == 204


def b_unchanged(client: httpx.Client, key_b: str) -> None:
    for sid in ("shared", "b-only"):
        got = client.get(f"/sessions/{sid}/memory", headers=bearer(key_b)).json()
        assert got["context"] == SECRET and SECRET in got["messages"][0]["content"]
    assert client.get("/sessions", headers=bearer(key_b)).json() == ["shared", "b-only"]
    for ns in ("shared", "b-only"):
        item = client.get(
            "/store/items", params={"namespace": ns, "key": "k"}, headers=bearer(key_b)
        )
        assert item.json()["value"] == {"text": SECRET}


def app_routes() -> list[tuple[str, str]]:
    """Every (method, path) the app serves, read from the app itself, so that a route added
    later cannot escape this test."""
    app = create_app(Settings(), store=SqliteStore(":memory:"))
    return [(m, p) for m, p in walk(app.routes, "") if p not in OPEN_ROUTES]


def walk(routes: Any, prefix: str) -> list[tuple[str, str]]:
    found = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI's wrapper around an included APIRouter
            found += walk(included.routes, prefix + route.include_context.prefix)
            continue
        if isinstance(route, Mount):
            found.append(("GET", prefix + route.path))
            continue
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        assert path is not None and methods, f"unexpected route {route!r}"
        found += [(m, prefix + path) for m in sorted(methods) if m != "HEAD"]
    return found


BODIES: dict[tuple[str, str], Any] = {
    ("POST", "memory"): {"messages": [{"role": "Human", "content": "from a"}], "context": "a"},
    ("POST", "retrieval"): {"text": SECRET},
    ("POST", "messages"): {"messages": [{"role": "user", "content": "from a"}]},
    ("PUT", "session"): {"metadata": {"owner": "a"}},
    ("POST", "search"): {"query": SECRET},
    ("POST", "mcp"): {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
    ("PUT", "items"): {"namespace": ["shared"], "key": "k", "value": {"text": "from a"}},
    ("DELETE", "items"): {"namespace": ["shared"], "key": "k"},
    ("POST", "namespaces"): {},
}
ITEM_QUERIES = {"/store/items": "?namespace={sid}&key=k"}
"""Query strings that aim a GET at tenant B's items."""


def concrete(method: str, path: str, sid: str) -> tuple[str, Any]:
    url = path.replace("{session_id:path}", quote(sid, safe=""))
    last = path.rstrip("/").rsplit("/", 1)[-1]
    kind = "session" if last == "{session_id:path}" else last
    if method == "GET" and path in ITEM_QUERIES:
        url += ITEM_QUERIES[path].format(sid=quote(sid, safe=""))
    return url, BODIES.get((method, kind))


def test_every_data_route_is_enumerated() -> None:
    routes = app_routes()
    assert len(routes) >= 20
    assert ("POST", "/api/v1/search") in routes and ("GET", "/v1/keys/current") in routes


@on_shared_backends
@pytest.mark.parametrize("method_path", app_routes(), ids=lambda mp: f"{mp[0]} {mp[1]}")
def test_no_route_lets_a_tenant_touch_anothers_data(
    server: tuple[str, str, str], method_path: tuple[str, str]
) -> None:
    url, key_a, key_b = server
    method, path = method_path
    with httpx.Client(base_url=url, timeout=10) as client:
        seed_b(client, key_b)
        for sid in ("shared", "b-only"):
            target, body = concrete(method, path, sid)
            no_key = client.request(method, target, json=body)
            assert no_key.status_code == 401 and "error" in no_key.json()
            wrong = client.request(method, target, json=body, headers=bearer("mh_nope_nope"))
            assert wrong.status_code == 401
            as_a = client.request(method, target, json=body, headers=bearer(key_a))
            assert as_a.status_code < 500
            assert SECRET not in as_a.text
        b_unchanged(client, key_b)


@on_shared_backends
def test_same_session_id_in_two_tenants_are_two_sessions(server: tuple[str, str, str]) -> None:
    url, key_a, key_b = server
    with httpx.Client(base_url=url, timeout=10) as client:
        seed_b(client, key_b)
        client.post(
            "/sessions/shared/memory",
            json={"messages": [{"role": "Human", "content": "a"}]},
            headers=bearer(key_a),
        )
        client.delete("/sessions/shared/memory", headers=bearer(key_a))
        assert client.get("/sessions", headers=bearer(key_a)).json() == []
        b_unchanged(client, key_b)


@on_shared_backends
def test_hosted_headers_x_api_key_and_basic_auth_carry_the_key(
    server: tuple[str, str, str],
) -> None:
    url, key_a, key_b = server
    with httpx.Client(base_url=url, timeout=10) as client:
        metal = {"x-metal-api-key": key_a, "x-metal-client-id": "c"}
        assert client.get("/v1/keys/current", headers=metal).status_code == 200
        assert client.get("/v1/keys/current").status_code == 401
        r = client.get("/v1/motorhead/sessions/x/memory", headers=metal)
        assert r.status_code == 200 and "data" in r.json()
        assert client.get("/sessions", auth=("key", key_a)).status_code == 200
        assert client.get("/sessions", auth=("key", "wrong")).status_code == 401
        seed_b(client, key_b)
        for key, sees_b in ((key_a, False), (key_b, True)):
            listed = client.get("/api/v1/sessions", headers={"x-api-key": key})
            assert listed.status_code == 200
            assert ("b-only" in [s["id"] for s in listed.json()["sessions"]]) is sees_b
        assert client.get("/sessions", headers={"x-api-key": "wrong"}).status_code == 401
        assert client.get("/healthz").status_code == 200


@on_shared_backends
def test_langchain_client_with_the_key_in_its_url(server: tuple[str, str, str]) -> None:
    url, key_a, _ = server
    keyed = url.replace("http://", f"http://key:{key_a}@")
    for base in (keyed, f"{keyed}/v1/motorhead"):
        memory = MotorheadMemory(url=base, session_id="lc", return_messages=True)
        asyncio.run(memory.init())
        memory.save_context({"input": "hi"}, {"output": "hello"})
    fresh = MotorheadMemory(url=keyed, session_id="lc", return_messages=True)
    asyncio.run(fresh.init())
    assert [m.content for m in fresh.chat_memory.messages] == ["hi", "hello", "hi", "hello"]
    anonymous = httpx.get(f"{url}/sessions/lc/memory")
    assert anonymous.status_code == 401


def run_cli(tmp_path: Path, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"MEMHEAD_STORE_URL": f"sqlite:///{db}", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "memhead", "keys", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_keys_cli_create_list_revoke_and_a_second_server_sees_it_at_once(
    tmp_path: Path,
) -> None:
    db = tmp_path / "keys.db"
    created = run_cli(tmp_path, db, "create", "--tenant", "acme", "--name", "prod")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    key_id = key.split("_")[1]
    assert key.startswith("mh_") and key_id in created.stdout.splitlines()[0]
    listed = run_cli(tmp_path, db, "list")
    assert key_id in listed.stdout and "acme" in listed.stdout and "live" in listed.stdout
    assert key not in listed.stdout
    for name in ("keys.db", "keys.db-wal"):  # the database and its WAL, if any
        try:
            stored = (tmp_path / name).read_bytes()
        except FileNotFoundError:
            continue
        assert key.encode() not in stored
    env = {"MEMHEAD_STORE_URL": f"sqlite:///{db}", "MEMHEAD_AUTH": "required"}
    with MemheadProcess(env, cwd=tmp_path) as one, MemheadProcess(env, cwd=tmp_path) as two:
        one.wait_ready()
        two.wait_ready()
        for proc in (one, two):
            assert httpx.get(f"{proc.url}/sessions", headers=bearer(key)).status_code == 200
        assert run_cli(tmp_path, db, "revoke", key_id).returncode == 0
        for proc in (one, two):
            assert httpx.get(f"{proc.url}/sessions", headers=bearer(key)).status_code == 401
        assert key not in one.output() and key not in two.output()
    assert run_cli(tmp_path, db, "revoke", key_id).returncode == 1
    assert "revoked" in run_cli(tmp_path, db, "list").stdout


def test_open_listener_without_auth_warns_loudly(tmp_path: Path) -> None:
    env = {"MEMHEAD_STORE_URL": f"sqlite:///{tmp_path / 'w.db'}", "MEMHEAD_HOST": "0.0.0.0"}
    with MemheadProcess(env, cwd=tmp_path) as proc:
        proc.wait_ready()
        assert "AUTHENTICATION IS OFF" in proc.output()

"""Retention and erasing a user, through real ``memhead serve`` processes on each backend,
with compaction and embedding running; ``memhead check`` finds nothing wrong after each."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from memhead.models import NewMessage, SessionKey
from memhead.settings import Settings
from memhead.stores import store_for
from tests.fake_openai import FakeOpenAI
from tests.lifecycle_helpers import W, assert_sound, memhead, store_env, wait_for, with_providers
from tests.servers import MemheadProcess

BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "redis"])
API = "/api/v1/sessions/"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def post(client: httpx.Client, session: str, *contents: str) -> None:
    body = {"messages": [{"role": "user", "content": c} for c in contents]}
    client.post(API + session + "/messages", json=body).raise_for_status()


def settled(client: httpx.Client, session: str) -> bool:
    """Compacted (a summary) and embedded (a vector search finds it)."""
    summary = client.get(API + session + "/summary").json()
    found = client.post(
        "/api/v1/search", json={"query": "zebra", "session_id": session, "mode": "vector"}
    )
    return summary.get("summary") is not None and bool(found.json().get("hits"))


@BACKENDS
def test_sessions_not_written_for_their_ttl_are_deleted_with_everything(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, fake: FakeOpenAI
) -> None:
    env = with_providers(
        store_env(backend, request, tmp_path),
        fake,
        MEMHEAD_SESSION_TTL="6s",
        MEMHEAD_SWEEP_INTERVAL="0.2",
    )
    with (
        MemheadProcess(env, cwd=tmp_path) as server,
        httpx.Client(base_url=server.wait_ready().url, timeout=10) as client,
    ):
        client.put(API + "kept", json={"ttl": 0}).raise_for_status()  # never expires
        client.put(API + "short", json={"ttl": 1, "user_id": "u"}).raise_for_status()
        for session in ("old", "kept", "fresh", "short"):
            post(client, session, *(f"zebra {session} {i}" for i in range(W + 3)))
        for session in ("old", "kept"):
            wait_for(lambda s=session: settled(client, s), what=f"{session} settled")
        started = time.monotonic()
        while client.get(API + "old").status_code == 200:
            assert time.monotonic() - started < 30, "old was never swept"
            post(client, "fresh", "still here")  # written all along: kept
            time.sleep(0.3)
        assert client.get(API + "short").status_code == 404  # its own ttl: 1 s
        for session in ("kept", "fresh"):
            assert client.get(API + session).status_code == 200
        listed = client.get("/api/v1/sessions").json()["sessions"]
        assert sorted(s["id"] for s in listed) == ["fresh", "kept"]
        assert client.get(API + "old/messages").json()["messages"] == []
        hits = client.post("/api/v1/search", json={"query": "zebra old", "mode": "hybrid"})
        assert {h["session_id"] for h in hits.json()["hits"]} <= {"kept", "fresh"}
        assert client.get("/api/v1/sessions?user_id=u").json()["sessions"] == []
        assert_sound(env, tmp_path)
    assert "zebra" not in server.output()


def fill_ancient(env: dict[str, str], count: int) -> None:
    """``count`` sessions last written at time 1 (long expired)."""

    async def run() -> None:
        store = store_for(
            Settings(
                **{
                    "store_url": env["MEMHEAD_STORE_URL"],
                    "redis_prefix": env.get("MEMHEAD_REDIS_PREFIX", "memhead"),
                }
            )
        )
        await store.setup()
        for i in range(count):
            await store.append(
                SessionKey("default", f"a{i}"), [NewMessage("user", "x")], now=1, window=W
            )
        await store.close()

    asyncio.run(run())


def deleted_by(server: MemheadProcess) -> int:
    text = httpx.get(server.url + "/metrics").text
    found = re.search(r'memhead_jobs_total\{kind="retention",result="deleted"\} (\S+)', text)
    return 0 if found is None else int(float(found[1]))


@BACKENDS
def test_two_processes_sweep_each_expired_session_once(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    env = {
        **store_env(backend, request, tmp_path),
        "MEMHEAD_SESSION_TTL": "1h",
        "MEMHEAD_SWEEP_INTERVAL": "0.05",
    }
    fill_ancient(env, 250)
    with MemheadProcess(env, cwd=tmp_path) as a, MemheadProcess(env, cwd=tmp_path) as b:
        a.wait_ready(), b.wait_ready()
        wait_for(lambda: httpx.get(a.url + "/api/v1/sessions").json()["sessions"] == [])
        assert deleted_by(a) + deleted_by(b) == 250
    assert_sound(env, tmp_path)


ITEMS = [
    (["users", "erin-7f3a"], "pref"),
    (["users", "erin-7f3a", "notes"], "n1"),
    (["shared", "erin-7f3a"], "s"),
    (["users", "olaf"], "kept"),
]
"""Memory items: erin's three are under the namespaces the erase names, olaf's is not."""


@BACKENDS
def test_erasing_a_user_leaves_nothing_of_them(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, fake: FakeOpenAI
) -> None:
    env = with_providers(store_env(backend, request, tmp_path), fake)
    user = "erin-7f3a"
    with (
        MemheadProcess(env, cwd=tmp_path) as server,
        httpx.Client(base_url=server.wait_ready().url, timeout=10) as client,
    ):
        for session, owner in (("e1", user), ("e2", user), ("other", "olaf")):
            client.put(API + session, json={"user_id": owner}).raise_for_status()
            post(client, session, *(f"zebra{owner} {i}" for i in range(W + 3)))
        for namespace, key in ITEMS:
            item = {"namespace": namespace, "key": key, "value": {"text": f"zebra {key}"}}
            client.put("/store/items", json=item).raise_for_status()
        for session in ("e1", "e2", "other"):
            wait_for(lambda s=session: settled(client, s), what=f"{session} settled")
        bad = client.delete(f"/api/v1/users/{user}?namespace=users.{user}&namespace=users..x")
        assert bad.status_code == 400 and "namespace" in bad.json()["error"]
        assert client.get(API + "e1").status_code == 200  # nothing changed
        where = f"/api/v1/users/{user}?namespace=users.{user}&namespace=shared.{user}"
        erased = client.delete(where)
        assert erased.json() == {
            "user_id": user,
            "sessions": 2,
            "messages": 14,
            "summaries": 2,
            "items": 3,
        }
        assert client.delete(where).json() | {"user_id": ""} == {  # idempotent
            "user_id": "",
            "sessions": 0,
            "messages": 0,
            "summaries": 0,
            "items": 0,
        }
        found = client.post("/store/items/search", json={"query": "zebra"}).json()["items"]
        assert [(i["namespace"], i["key"]) for i in found] == [(["users", "olaf"], "kept")]
        for path in (API + "e1", API + "e2/summary"):
            assert client.get(path).status_code == 404
        assert client.get(API + "e1/memory").json()["messages"] == []
        assert client.get(f"/api/v1/sessions?user_id={user}").json()["sessions"] == []
        for mode in ("keyword", "vector", "hybrid"):
            found = client.post("/api/v1/search", json={"query": f"zebra{user}", "mode": mode})
            assert {h["session_id"] for h in found.json()["hits"]} <= {"other"}
        seen = client.get("/api/v1/export").text + client.get("/metrics").text
        seen += client.get("/?page=1&size=100").text + client.get("/sessions").text
        assert user not in seen and "e1" not in client.get("/api/v1/sessions").text
        assert client.get(API + "other").status_code == 200
    assert user not in server.output()
    args = ("erase", "--user", user, "--tenant", "default", "--namespace", "users.olaf")
    done = memhead(env, *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert b'"sessions":0' in done.stdout and b'"items":1' in done.stdout
    bad = memhead(env, *args[:-1], "users..x", cwd=tmp_path)
    assert bad.returncode == 2 and b"--namespace" in bad.stderr
    assert_sound(env, tmp_path)

"""Retrieval over real HTTP: the native search route and Motörhead's retrieval route."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from memhead import Settings, create_app
from memhead.providers import build_embedder
from memhead.stores.sqlite import SqliteStore
from tests.conftest import ClientFactory
from tests.fake_openai import FakeOpenAI
from tests.servers import serve_in_thread

TURNS = [
    ("Human", "My sister is called Inès and she lives in Lyon"),
    ("AI", "Lyon is lovely in spring"),
    ("Human", "I adopted a cat named Pixel last week"),
    ("AI", "Congratulations on the new cat"),
    ("Human", "We are planning a hiking trip to the Alps"),
]


def post_turns(client: httpx.Client, session_id: str) -> None:
    body = {"messages": [{"role": r, "content": c} for r, c in TURNS]}
    assert client.post(f"/sessions/{session_id}/memory", json=body).status_code == 200


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def embedded_client(fake: FakeOpenAI, tmp_path: Path) -> Iterator[httpx.Client]:
    settings = Settings(
        llm_base_url=fake.base_url, long_term_memory=True, worker_poll_s=0.05, embed_batch=8
    )
    embedder = build_embedder(settings, "fake-embedding")
    app = create_app(settings, store=SqliteStore(str(tmp_path / "s.db")), embedder=embedder)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


def wait_embedded(client: httpx.Client, query: str, session_id: str, count: int) -> None:
    deadline = time.monotonic() + 10
    body = {"query": query, "session_id": session_id, "mode": "vector", "limit": 50}
    while time.monotonic() < deadline:
        if len(client.post("/api/v1/search", json=body).json()["hits"]) >= count:
            return
        time.sleep(0.05)
    raise AssertionError("messages were not embedded in time")


def test_motorhead_retrieval_uses_keywords_without_an_embedder(
    make_client: ClientFactory,
) -> None:
    client = make_client(long_term_memory=True)
    post_turns(client, "s1")
    post_turns(client, "s2")
    hits = client.post(
        "/sessions/s1/retrieval", json={"text": "what is the name of my cat?"}
    ).json()
    assert hits[0] == {"role": "Human", "content": TURNS[2][1], "dist": hits[0]["dist"]}
    assert 0 <= hits[0]["dist"] <= 1
    assert all(h["content"] in {c for _, c in TURNS} for h in hits)
    assert [h["dist"] for h in hits] == sorted(h["dist"] for h in hits)
    assert len(hits) <= 10
    hosted = client.post("/v1/motorhead/sessions/s1/retrieval", json={"text": "cat Pixel"}).json()
    assert hosted["data"][0]["content"] == TURNS[2][1]


def test_motorhead_retrieval_of_unknown_session_is_empty(make_client: ClientFactory) -> None:
    client = make_client(long_term_memory=True)
    assert client.post("/sessions/none/retrieval", json={"text": "cat"}).json() == []
    r = client.post("/sessions/none/retrieval", json={"nope": 1})
    assert r.status_code == 400 and "error" in r.json()


def test_native_keyword_search_with_scope_and_filters(make_client: ClientFactory) -> None:
    client = make_client()
    post_turns(client, "s1")
    client.put("/api/v1/sessions/s1", json={"user_id": "u1"})
    client.put("/api/v1/sessions/s2", json={"user_id": "u1"})
    client.post(
        "/api/v1/sessions/s2/messages",
        json={"messages": [{"role": "user", "content": "another cat story", "metadata": {"k": 1}}]},
    )
    r = client.post("/api/v1/search", json={"query": "cat", "user_id": "u1", "limit": 10})
    assert r.status_code == 200
    body = r.json()
    assert body["mode"] == "keyword"  # hybrid without an embedder
    sessions = {h["session_id"] for h in body["hits"]}
    assert sessions == {"s1", "s2"}
    assert all(h["retrievers"] == ["keyword"] for h in body["hits"])
    hit = next(h for h in body["hits"] if h["session_id"] == "s2")
    assert hit["metadata"] == {"k": 1} and hit["seq"] == 1 and hit["role"] == "user"
    only_ai = client.post(
        "/api/v1/search", json={"query": "cat", "session_id": "s1", "roles": ["AI"]}
    ).json()
    assert [h["content"] for h in only_ai["hits"]] == [TURNS[3][1]]
    future = client.post(
        "/api/v1/search", json={"query": "cat", "since": "2100-01-01T00:00:00Z"}
    ).json()
    assert future["hits"] == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"query": ""},
        {"query": "x", "limit": 0},
        {"query": "x", "limit": 1000},
        {"query": "x", "mode": "magic"},
        {"query": "x", "roles": []},
        {"query": "x", "surprise": 1},
    ],
)
def test_bad_search_requests_are_422(client: httpx.Client, body: dict[str, object]) -> None:
    r = client.post("/api/v1/search", json=body)
    assert r.status_code == 422 and "error" in r.json()


def test_vector_mode_without_an_embedder_is_a_400(client: httpx.Client) -> None:
    r = client.post("/api/v1/search", json={"query": "x", "mode": "vector"})
    assert r.status_code == 400 and "MEMHEAD_EMBED_MODEL" in r.json()["error"]


def test_hybrid_search_with_an_embedder(embedded_client: httpx.Client, fake: FakeOpenAI) -> None:
    post_turns(embedded_client, "s1")
    wait_embedded(embedded_client, "cat", "s1", len(TURNS))
    body = {"query": "cat named Pixel", "session_id": "s1", "limit": 3}
    got = embedded_client.post("/api/v1/search", json=body).json()
    assert got["mode"] == "hybrid"
    assert got["hits"][0]["content"] == TURNS[2][1]
    assert sorted(got["hits"][0]["retrievers"]) == ["keyword", "vector"]
    vector = embedded_client.post("/api/v1/search", json={**body, "mode": "vector"}).json()
    assert vector["hits"][0]["content"] == TURNS[2][1]
    assert vector["hits"][0]["retrievers"] == ["vector"]
    hits = embedded_client.post("/sessions/s1/retrieval", json={"text": "cat Pixel"}).json()
    assert hits[0]["content"] == TURNS[2][1]
    assert any(c["path"].endswith("/embeddings") for c in fake.calls)
    ready = embedded_client.get("/readyz").json()
    assert ready["embedding_backlog"] == 0
    assert ready["embedding"]["embedded"] >= len(TURNS) and ready["embedding"]["last_error"] is None


def test_delete_removes_the_session_from_search(embedded_client: httpx.Client) -> None:
    post_turns(embedded_client, "gone")
    wait_embedded(embedded_client, "cat", "gone", len(TURNS))
    embedded_client.delete("/sessions/gone/memory")
    for mode in ("keyword", "vector", "hybrid"):
        body = {"query": "cat", "session_id": "gone", "mode": mode}
        assert embedded_client.post("/api/v1/search", json=body).json()["hits"] == []


def test_embedding_failures_back_off_and_recover(fake: FakeOpenAI, tmp_path: Path) -> None:
    settings = Settings(llm_base_url=fake.base_url, llm_max_retries=0, llm_backoff_s=0.01)
    embedder = build_embedder(settings, "fake-embedding")
    assert embedder is not None
    store = SqliteStore(str(tmp_path / "e.db"))

    async def run() -> None:
        from memhead.embedding import EmbeddingWorker
        from memhead.models import NewMessage, SessionKey

        clock = [1_000_000]
        worker = EmbeddingWorker(store, embedder, backoff_ms=1000, clock=lambda: clock[0])
        await store.setup()
        await store.append(SessionKey("t", "s"), [NewMessage("user", "hello")], now=1, window=12)
        fake.fail_next(1, status=500)
        assert await worker.run_pending() == 0
        assert worker.status.attempts == 1 and "500" in (worker.status.last_error or "")
        assert await worker.run_pending() == 0  # backing off: no call
        calls = len(fake.calls)
        clock[0] += 2000
        assert await worker.run_pending() == 1
        assert len(fake.calls) == calls + 1
        assert worker.status.last_error is None and worker.status.embedded == 1
        await store.close()
        await embedder.close()

    asyncio.run(run())

"""``dist`` on Motörhead's retrieval route is a distance: the cosine distance between the
query's and the message's vectors whenever both exist (whichever list found the message), a
documented value in [0.5, 1] growing as the match worsens when the message has none. On every
backend, over real HTTP; vectors come from the fake embedder and are recomputed here."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest

from memhead import Settings, create_app, retrieval
from memhead.models import SearchScope
from memhead.providers import build_embedder
from memhead.search import Mode, SearchService
from memhead.stores import Store
from memhead.stores.redis import RedisStore
from memhead.stores.sqlite import SqliteStore
from tests.fake_openai import FakeOpenAI, fake_embedding
from tests.servers import serve_in_thread

MODEL, DIM = "fake-embedding", 16
TURNS = [
    ("Human", "I adopted a cat named Pixel last week"),
    ("AI", "Congratulations on the new cat"),
    ("Human", "Pixel the cat sleeps all day on the sofa"),
    ("AI", "Cats do love sofas"),
    ("Human", "My sister lives in Lyon"),
    ("AI", "Lyon is lovely in spring"),
    ("Human", "We are planning a hiking trip to the Alps"),
    ("AI", "Bring a warm jacket for the cat"),
]
QUERY = "what did the cat Pixel do"


@pytest.fixture(params=["sqlite", "redis"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Store]:
    """Fresh store objects over one backend's data (the server's and the test's own)."""
    if request.param == "sqlite":
        return lambda: SqliteStore(str(tmp_path / "dist.db"))
    from tests.redis_server import delete_prefix

    url: str = request.getfixturevalue("redis_url")
    prefix = f"memhead-test-{uuid.uuid4().hex}"
    request.addfinalizer(lambda: delete_prefix(url, prefix))
    return lambda: RedisStore.from_url(url, prefix=prefix)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(embedding_dim=DIM) as server:
        yield server


def settings_for(fake: FakeOpenAI) -> Settings:
    return Settings(llm_base_url=fake.base_url, long_term_memory=True, worker_enabled=False)


def serve(open_store: Callable[[], Store], fake: FakeOpenAI, *, embedder: bool) -> Iterator[str]:
    settings = settings_for(fake)
    app = create_app(
        settings,
        store=open_store(),
        embedder=build_embedder(settings, MODEL) if embedder else None,
    )
    with serve_in_thread(app) as url:
        yield url


def vector_of(text: str) -> list[float]:
    return fake_embedding(text, DIM)


def cosine_distance(query: str, content: str) -> float:
    q = vector_of(retrieval.query_text(query))
    m = vector_of(retrieval.embedding_text(content))
    return 1 - sum(a * b for a, b in zip(q, m, strict=True)) / math.hypot(*q) / math.hypot(*m)


def embed(open_store: Callable[[], Store], keep: Callable[[str], bool]) -> None:
    """Store the fake embedder's vector of each waiting message that ``keep`` selects."""

    async def run() -> None:
        store = open_store()
        await store.setup()
        backlog = [p for p in await store.embedding_backlog(limit=100) if keep(p.message.content)]
        vectors = [vector_of(retrieval.embedding_text(p.message.content)) for p in backlog]
        await store.store_vectors(list(zip(backlog, vectors, strict=True)), model=MODEL)
        await store.close()

    asyncio.run(run())


def retrieve(url: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=url, timeout=20) as client:
        body = {"messages": [{"role": r, "content": c} for r, c in TURNS]}
        if client.get("/sessions/s/memory").json()["messages"] == []:
            assert client.post("/sessions/s/memory", json=body).status_code == 200
        hits: list[dict[str, Any]] = client.post(
            "/sessions/s/retrieval", json={"text": QUERY}
        ).json()
        native = client.post("/api/v1/search", json={"query": QUERY, "session_id": "s"}).json()
    # The ranking is the search's: dist does not reorder it.
    assert [h["content"] for h in hits] == [h["content"] for h in native["hits"]]
    assert len(hits) >= 3
    return hits


def assert_vectorless(dists: list[float]) -> None:
    assert all(0.5 <= d <= 1 for d in dists)
    assert dists == sorted(dists)


def test_keyword_only_server(open_store: Callable[[], Store], fake: FakeOpenAI) -> None:
    with serve_in_thread(create_app(settings_for(fake), store=open_store())) as url:
        hits = retrieve(url)
    dists = [float(h["dist"]) for h in hits]
    assert dists[0] == 0.5  # the best keyword match
    assert_vectorless(dists)
    assert dists[-1] > 0.5


def test_hybrid_with_every_message_embedded(
    open_store: Callable[[], Store], fake: FakeOpenAI
) -> None:
    for url in serve(open_store, fake, embedder=True):
        retrieve(url)  # stores the turns
        embed(open_store, lambda content: True)
        hits = retrieve(url)
    for hit in hits:
        expected = cosine_distance(QUERY, str(hit["content"]))
        assert hit["dist"] == pytest.approx(expected, abs=1e-5), hit


def test_hybrid_with_some_messages_not_yet_embedded(
    open_store: Callable[[], Store], fake: FakeOpenAI
) -> None:
    embedded = {c for i, (_, c) in enumerate(TURNS) if i % 2 == 1}
    for url in serve(open_store, fake, embedder=True):
        retrieve(url)
        embed(open_store, lambda content: content in embedded)
        hits = retrieve(url)
    with_vector = [h for h in hits if h["content"] in embedded]
    without = [float(h["dist"]) for h in hits if h["content"] not in embedded]
    assert with_vector and without
    for hit in with_vector:
        expected = cosine_distance(QUERY, str(hit["content"]))
        assert hit["dist"] == pytest.approx(expected, abs=1e-5), hit
    assert_vectorless(without)


@pytest.mark.parametrize("mode", get_args(Mode))
def test_every_search_mode_gives_cosine_distances(
    open_store: Callable[[], Store], fake: FakeOpenAI, mode: Mode
) -> None:
    """The route searches hybrid; the distance is the same in the other modes."""
    for url in serve(open_store, fake, embedder=True):
        retrieve(url)
    embed(open_store, lambda content: True)

    async def run() -> list[tuple[str, float]]:
        store = open_store()
        await store.setup()
        embedder = build_embedder(settings_for(fake), MODEL)
        assert embedder is not None
        try:
            results = await SearchService(store, embedder).search(
                SearchScope("default", session_id="s"),
                QUERY,
                mode=mode,
                distances=True,
            )
        finally:
            await embedder.close()
            await store.close()
        return [(r.hit.message.content, r.distance) for r in results]

    found = asyncio.run(run())
    assert found
    for content, distance in found:
        assert distance == pytest.approx(cosine_distance(QUERY, content), abs=1e-5)

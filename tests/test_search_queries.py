"""How searches embed their queries, over real HTTP with the fake embedding server counting
the calls: one process-wide LRU cache of query vectors (a repeated query, or the MCP search of
messages and memories together, embeds once; concurrent searches share one call; a failure is
not kept; ``MEMHEAD_QUERY_CACHE_SIZE=0`` turns it off), and the keyword half of a search not
waiting for the query's embedding."""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from memhead import Settings, create_app, retrieval
from memhead.providers import build_embedder
from memhead.settings import load_settings
from memhead.stores import Store
from memhead.stores.redis import RedisStore
from memhead.stores.sqlite import SqliteStore
from tests.fake_openai import FakeOpenAI, fake_embedding
from tests.redis_server import start_redis
from tests.servers import serve_in_thread

TURNS = [
    ("Human", "My sister is called Ines and she lives in Lyon"),
    ("AI", "Lyon is lovely in spring"),
    ("Human", "I adopted a cat named Pixel last week"),
]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@contextmanager
def serving(
    fake: FakeOpenAI, store: Store, settings: Settings | None = None
) -> Iterator[httpx.Client]:
    """A real server over ``store`` whose embedder is the fake (model ``fake-embedding``)."""
    settings = (settings or Settings()).model_copy(
        update={"llm_base_url": fake.base_url, "worker_poll_s": 0.05, "llm_max_retries": 0}
    )
    app = create_app(settings, store=store, embedder=build_embedder(settings, "fake-embedding"))
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=20) as client:
        yield client


def sqlite(tmp_path: Path) -> SqliteStore:
    return SqliteStore(str(tmp_path / f"{uuid.uuid4().hex}.db"))


def query_calls(fake: FakeOpenAI, query: str) -> int:
    """Embedding calls the fake got for the search ``query``."""
    text = retrieval.query_text(query)
    return sum(
        1 for c in fake.calls if c["path"].endswith("/embeddings") and c["json"]["input"] == [text]
    )


def cosine_distance(query: str, content: str) -> float:
    """What the fake embedder's vectors give for ``dist``, computed here independently."""
    q = fake_embedding(retrieval.query_text(query))
    m = fake_embedding(retrieval.embedding_text(content))
    return 1 - sum(a * b for a, b in zip(q, m, strict=True)) / math.hypot(*q) / math.hypot(*m)


def wait_for(condition: Callable[[], object], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen in {timeout}s")
        time.sleep(0.02)


def remember_turns(client: httpx.Client, session_id: str = "s") -> None:
    body = {"messages": [{"role": r, "content": c} for r, c in TURNS]}
    assert client.post(f"/sessions/{session_id}/memory", json=body).status_code == 200


def wait_embedded(client: httpx.Client) -> None:
    wait_for(lambda: client.get("/readyz").json()["embedding_backlog"] == 0, "embedding")


def search(client: httpx.Client, query: str, **body: Any) -> list[str]:
    r = client.post("/api/v1/search", json={"query": query, **body})
    assert r.status_code == 200, r.text
    return [h["content"] for h in r.json()["hits"]]


def test_a_repeated_query_is_embedded_once_for_every_kind_of_search(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    with serving(fake, sqlite(tmp_path), Settings(long_term_memory=True)) as client:
        remember_turns(client)
        item = {"namespace": ["notes"], "key": "k", "value": {"text": "Pixel is a grey cat"}}
        assert client.put("/store/items", json=item).status_code == 204
        wait_embedded(client)
        query = "what is the name of my cat?"
        first = search(client, query, session_id="s")
        assert first[0] == TURNS[2][1]
        assert query_calls(fake, query) == 1
        # The same query again, in every mode and through every route: no new call, and
        # the same answer as the first time.
        assert search(client, query, session_id="s") == first
        assert len(search(client, query, session_id="s", mode="vector")) == len(TURNS)
        hits = client.post("/sessions/s/retrieval", json={"text": query}).json()
        assert len(hits) == len(TURNS)
        for hit in hits:  # the cached vector is the query's own
            assert hit["dist"] == pytest.approx(cosine_distance(query, hit["content"]), abs=1e-5)
        items = client.post("/store/items/search", json={"query": query}).json()["items"]
        assert [i["key"] for i in items] == ["k"]
        # The text embedded is the trimmed query: surrounding spaces are the same query.
        search(client, f"  {query} ")
        assert query_calls(fake, query) == 1
        # Another query is embedded, once.
        search(client, "where does my sister live?")
        search(client, "where does my sister live?", mode="vector")
        assert query_calls(fake, "where does my sister live?") == 1


def test_with_the_cache_off_every_search_embeds_its_query(
    fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMHEAD_QUERY_CACHE_SIZE", "0")
    with serving(fake, sqlite(tmp_path), load_settings()) as client:
        remember_turns(client)
        wait_embedded(client)
        for expected in (1, 2, 3):
            assert search(client, "my cat Pixel", session_id="s")[0] == TURNS[2][1]
            assert query_calls(fake, "my cat Pixel") == expected


def test_the_least_recently_searched_query_leaves_a_full_cache(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    with serving(fake, sqlite(tmp_path), Settings(query_cache_size=2)) as client:
        remember_turns(client)
        wait_embedded(client)
        for query in ("cat", "sister", "cat", "Lyon"):  # "sister" is the oldest when "Lyon" comes
            search(client, query)
        search(client, "cat")
        assert query_calls(fake, "cat") == 1
        search(client, "sister")
        assert query_calls(fake, "sister") == 2


def test_concurrent_searches_for_one_query_share_one_embedding(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    with serving(fake, sqlite(tmp_path)) as client:
        remember_turns(client)
        wait_embedded(client)
        fake.delay_s = 0.5  # every search arrives while the first one's call is in flight
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: search(client, "cat named Pixel"), range(8)))
        assert query_calls(fake, "cat named Pixel") == 1
        assert all(a == answers[0] for a in answers) and answers[0][0] == TURNS[2][1]


def test_a_failed_query_embedding_is_not_kept(fake: FakeOpenAI, tmp_path: Path) -> None:
    with serving(fake, sqlite(tmp_path)) as client:
        remember_turns(client)
        wait_embedded(client)
        fake.fail_next(1, status=500)
        failed = client.post("/api/v1/search", json={"query": "cat named Pixel"})
        assert failed.status_code == 502 and "500" in failed.json()["error"]
        assert search(client, "cat named Pixel")[0] == TURNS[2][1]
        assert query_calls(fake, "cat named Pixel") == 2
        search(client, "cat named Pixel")
        assert query_calls(fake, "cat named Pixel") == 2


async def test_the_mcp_search_of_messages_and_memories_embeds_its_query_once(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    with serving(fake, sqlite(tmp_path)) as client:
        url = str(client.base_url).rstrip("/")
        remember_turns(client)
        async with (
            httpx2.AsyncClient(timeout=30) as http,
            Client(streamable_http_client(f"{url}/mcp", http_client=http)) as mcp,
        ):
            remembered = await mcp.call_tool("remember", {"content": "Pixel likes tuna"})
            assert not remembered.is_error
            wait_embedded(client)
            for _ in range(2):
                result = await mcp.call_tool("search", {"query": "what does Pixel eat?"})
                assert not result.is_error and result.structured_content is not None
                found = result.structured_content
                assert found["mode"] == "hybrid"
                assert {h["kind"] for h in found["hits"]} == {"message", "memory"}
                assert query_calls(fake, "what does Pixel eat?") == 1


@pytest.mark.parametrize("kind", ["messages", "items"])
def test_the_query_is_embedded_while_the_keyword_half_waits_for_the_store(
    fake: FakeOpenAI, kind: str
) -> None:
    """With Redis stopped (SIGSTOP) the keyword half and the vector search cannot finish;
    the query's embedding must be asked for all the same, and the search answer once the
    store answers again."""
    with start_redis() as redis_server:
        store = RedisStore.from_url(redis_server.url, prefix=f"memhead-test-{uuid.uuid4().hex}")
        with serving(fake, store) as client:
            remember_turns(client)
            item = {"namespace": ["n"], "key": "pixel", "value": {"text": "Pixel is a cat"}}
            assert client.put("/store/items", json=item).status_code == 204
            wait_embedded(client)
            query = "a cat called Pixel"
            path, body = {
                "messages": ("/api/v1/search", {"query": query}),
                "items": ("/store/items/search", {"query": query}),
            }[kind]
            answer: list[httpx.Response] = []
            redis_server.pause()
            try:
                searching = threading.Thread(
                    target=lambda: answer.append(client.post(path, json=body))
                )
                searching.start()
                wait_for(lambda: query_calls(fake, query) == 1, "the embedding call", timeout=4)
                assert not answer  # the search is still waiting for the store
            finally:
                redis_server.resume()
            searching.join(timeout=20)
            assert answer and answer[0].status_code == 200, answer
            # The same answer as a search that never waited (its query vector now cached).
            again = client.post(path, json=body)
            assert answer[0].json() == again.json()
            if kind == "messages":
                hits = again.json()["hits"]
                assert len(hits) == len(TURNS)
                assert {h["content"] for h in hits} == {c for _, c in TURNS}
                assert all("vector" in h["retrievers"] for h in hits)
            else:
                assert [i["key"] for i in again.json()["items"]] == ["pixel"]

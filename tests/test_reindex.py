"""Switching embedding models, on every backend that outlives a process (SQLite file, Redis),
with real ``memhead`` processes: a start with another model is refused with one line, ``memhead
reindex`` re-embeds everything (with progress, resumable), a server left running with the old
model answers 409, and one started with the new model serves the new vectors."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from memhead import retrieval
from memhead.models import NewMessage, SessionKey
from memhead.stores import Store
from memhead.stores.redis import RedisStore
from memhead.stores.sqlite import SqliteStore
from tests.fake_openai import FakeOpenAI, fake_embedding
from tests.servers import MemheadProcess

OLD, NEW = ("fake-old", 16), ("fake-new", 24)
TURNS = [
    ("Human", "My sister is called Ines and she lives in Lyon"),
    ("AI", "Lyon is lovely in spring"),
    ("Human", "I adopted a cat named Pixel last week"),
]


class Deployment:
    """One store (its environment for ``memhead`` and a way to open it here) and two fake
    embedding servers: the old model's and the new one's, of different dimensions."""

    def __init__(self, store_env: dict[str, str], open_store: Callable[[], Store], cwd: Path):
        self.store_env, self.open_store, self.cwd = store_env, open_store, cwd
        self.fakes = {OLD[0]: FakeOpenAI(embedding_dim=OLD[1]).start()}
        self.fakes[NEW[0]] = FakeOpenAI(embedding_dim=NEW[1]).start()

    def env(self, model: str, **extra: str) -> dict[str, str]:
        return {
            **self.store_env,
            "MEMHEAD_LLM_BASE_URL": self.fakes[model].base_url,
            "MEMHEAD_EMBED_MODEL": model,
            "MEMHEAD_LLM_MAX_RETRIES": "0",
            "MEMHEAD_WORKER_POLL": "0.05",
            "MOTORHEAD_LONG_TERM_MEMORY": "true",
            **extra,
        }

    def run(self, model: str, *command: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "memhead", *command],
            env={**os.environ, **self.env(model, **extra)},
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    def state(self) -> tuple[tuple[str, int] | None, int]:
        """The recorded (model, dimensions) and the size of the embedding backlog."""

        async def read() -> tuple[tuple[str, int] | None, int]:
            store = self.open_store()
            await store.setup()
            try:
                return await store.embedding_space(), await store.embedding_backlog_size()
            finally:
                await store.close()

        return asyncio.run(read())

    def seed(self, count: int) -> None:
        async def write() -> None:
            store = self.open_store()
            await store.setup()
            batch = [NewMessage("Human", f"message number {n} about cats") for n in range(count)]
            await store.append(SessionKey("default", "bulk"), batch, now=1, window=12)
            await store.close()

        asyncio.run(write())

    def stop(self) -> None:
        for fake in self.fakes.values():
            fake.stop()


@pytest.fixture(params=["sqlite-file", "redis"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    if request.param == "sqlite-file":
        db = tmp_path / "memhead.db"
        found = Deployment(
            {"MEMHEAD_STORE_URL": f"sqlite:///{db}"}, lambda: SqliteStore(str(db)), tmp_path
        )
    else:
        from tests.redis_server import delete_prefix

        url: str = request.getfixturevalue("redis_url")
        prefix = f"memhead-test-{uuid.uuid4().hex}"
        request.addfinalizer(lambda: delete_prefix(url, prefix))
        found = Deployment(
            {"MEMHEAD_STORE_URL": url, "MEMHEAD_REDIS_PREFIX": prefix},
            lambda: RedisStore.from_url(url, prefix=prefix),
            tmp_path,
        )
    yield found
    found.stop()


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


def cosine_distance(query: str, content: str, dim: int) -> float:
    """What the fake embedder's vectors give for ``dist``, computed here independently."""
    q = fake_embedding(retrieval.query_text(query), dim)
    m = fake_embedding(retrieval.embedding_text(content), dim)
    return 1 - sum(a * b for a, b in zip(q, m, strict=True)) / math.hypot(*q) / math.hypot(*m)


def assert_refused(result: subprocess.CompletedProcess[str]) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    line = lines[0]
    assert "MEMHEAD_EMBED_MODEL" in line and "memhead reindex" in line
    assert f"{OLD[0]} ({OLD[1]} dimensions)" in line and NEW[0] in line


def test_a_model_change_is_refused_then_reindexed(deployment: Deployment) -> None:
    with MemheadProcess(deployment.env(OLD[0]), cwd=deployment.cwd) as old_server:
        old_server.wait_ready()
        body = {"messages": [{"role": r, "content": c} for r, c in TURNS]}
        client = httpx.Client(base_url=old_server.url, timeout=20)
        assert client.post("/sessions/s/memory", json=body).status_code == 200
        wait_for(lambda: deployment.state() == (OLD, 0))

        for command in (("serve",), ("worker",), ("mcp",)):
            assert_refused(deployment.run(NEW[0], *command))

        done = deployment.run(NEW[0], "reindex")
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"dropping the vectors of {OLD[0]} ({OLD[1]} dimensions)" in done.stdout
        assert "reindex [##############################] 100% 3/3 messages" in done.stdout
        assert deployment.state() == (NEW, 0)

        # The server still running with the old model: a clear 409, never a 500.
        answer = client.post("/sessions/s/retrieval", json={"text": "my cat"})
        assert answer.status_code == 409
        error = answer.json()["error"]
        assert f"now of {NEW[0]} ({NEW[1]} dimensions)" in error
        assert f"MEMHEAD_EMBED_MODEL={NEW[0]}" in error
        search = {"query": "cat", "mode": "vector"}
        assert client.post("/api/v1/search", json=search).status_code == 409
        keyword = client.post("/api/v1/search", json={**search, "mode": "keyword"})
        assert keyword.status_code == 200 and keyword.json()["hits"]
        client.close()

    # The old model is refused now; the new one starts and serves the new vectors.
    old = deployment.run(OLD[0], "worker")
    assert old.returncode == 2 and f"{NEW[0]} ({NEW[1]} dimensions)" in old.stderr
    with MemheadProcess(deployment.env(NEW[0]), cwd=deployment.cwd) as new_server:
        new_server.wait_ready()
        query = "what is my cat called"
        hits = httpx.post(f"{new_server.url}/sessions/s/retrieval", json={"text": query}).json()
        assert {h["content"] for h in hits} == {c for _, c in TURNS}
        for hit in hits:
            expected = cosine_distance(query, hit["content"], NEW[1])
            assert hit["dist"] == pytest.approx(expected, abs=1e-5)


def test_an_interrupted_reindex_continues_when_run_again(deployment: Deployment) -> None:
    deployment.seed(40)
    first = deployment.run(OLD[0], "reindex")
    assert first.returncode == 0 and "dropping" not in first.stdout
    assert deployment.state() == (OLD, 0)

    deployment.fakes[NEW[0]].delay_s = 0.3
    env = {**os.environ, **deployment.env(NEW[0], MEMHEAD_EMBED_BATCH="4")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "memhead", "reindex"],
        env=env,
        cwd=deployment.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[str] = []
    while "reindex [" not in "".join(lines):  # the first 10 % line: some vectors stored
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        lines.append(line)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    assert "interrupted; run it again to continue" in proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    space, left = deployment.state()
    assert space == NEW and 0 < left < 40

    deployment.fakes[NEW[0]].delay_s = 0
    again = deployment.run(NEW[0], "reindex", MEMHEAD_EMBED_BATCH="1")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "dropping" not in again.stdout and f"embedding {left} messages" in again.stdout
    bars = [line for line in again.stdout.splitlines() if line.startswith("reindex [")]
    assert len(bars) == 11  # not a terminal: the first batch, then a line per 10 %
    assert bars[-1] == f"reindex [{'#' * 30}] 100% {left}/{left} messages"
    assert deployment.state() == (NEW, 0)


def test_reindex_needs_an_embedder(deployment: Deployment) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "memhead", "reindex"],
        env={**os.environ, **deployment.store_env},  # no provider, no MEMHEAD_EMBED_MODEL
        cwd=deployment.cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "MEMHEAD_EMBED_MODEL" in result.stderr

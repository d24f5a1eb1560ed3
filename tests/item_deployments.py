"""``memhead serve`` with memory items, for the tests of clients of the ``/store`` routes: a
real server process on SQLite or Redis, auth required, the fake embedder embedding items in
the background, and a fresh API key (so a tenant of its own) whenever a test asks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from memhead.stores import Store
from memhead.stores.redis import RedisStore
from memhead.stores.sqlite import SqliteStore
from tests.fake_openai import FakeOpenAI
from tests.redis_server import delete_prefix
from tests.servers import NO_PROVIDERS, MemheadProcess
from tests.test_auth import keys_for


class ItemDeployment:
    """A running server (``url``) and a way to make keys for new tenants on its store."""

    def __init__(self, process: MemheadProcess, store_url: str, redis_prefix: str | None):
        self.process = process
        self.url = process.url
        self.store_url = store_url
        self.redis_prefix = redis_prefix

    def open_store(self) -> Store:
        """Another store object over the server's data (keys are made through it)."""
        if self.redis_prefix is not None:
            return RedisStore.from_url(self.store_url, prefix=self.redis_prefix)
        return SqliteStore(self.store_url.removeprefix("sqlite:///"))

    def new_key(self) -> str:
        """The key of a tenant nobody has used yet."""
        return keys_for(self.open_store(), f"t-{uuid.uuid4().hex[:12]}")[0]


@contextmanager
def item_deployment(
    cwd: Path, *, redis_url: str | None = None, **env: str
) -> Iterator[ItemDeployment]:
    """Start ``memhead serve`` (SQLite in ``cwd``, or Redis under a fresh key prefix)."""
    prefix = f"memhead-lg-{uuid.uuid4().hex[:8]}" if redis_url else None
    store_url = redis_url or f"sqlite:///{cwd / 'items.db'}"
    with FakeOpenAI() as fake:
        settings = {
            **NO_PROVIDERS,
            "MEMHEAD_STORE_URL": store_url,
            "MEMHEAD_AUTH": "required",
            "MEMHEAD_LLM_BASE_URL": fake.base_url,
            "MEMHEAD_LLM_MAX_RETRIES": "0",
            "MEMHEAD_EMBED_MODEL": "fake-embedder",
            "MEMHEAD_WORKER_POLL": "0.05",
            **({"MEMHEAD_REDIS_PREFIX": prefix} if prefix else {}),
            **env,
        }
        try:
            with MemheadProcess(settings, cwd=cwd) as process:
                yield ItemDeployment(process.wait_ready(timeout=90), store_url, prefix)
        finally:
            if redis_url and prefix:
                delete_prefix(redis_url, prefix)
